"""The validated playbook: plays and tasks as frozen records, each knowing its file and line.

In: nothing (records only; ``diag.playbook.validate`` builds them from YAML). Out: ``Playbook``,
``Play`` and ``Task``, which the engine runs and ``--list-tasks`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Keys a play and a task may have besides the module key (anything else is an error).
PLAY_KEYS = ("name", "hosts", "vars", "vars_files", "tasks", "gather_facts")
TASK_KEYS = ("name", "register", "when", "tags", "ignore_errors", "vars")


@dataclass(frozen=True, slots=True)
class Task:
    """One task: a module with its (untemplated) args, plus the task keywords."""

    name: str
    module: str
    args: Mapping[str, Any]
    file: str
    line: int
    register: str | None = None
    when: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    ignore_errors: bool = False
    vars: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Play:
    """One play: a host pattern, its variables (vars_files already read, in order) and its tasks."""

    name: str
    hosts: str
    file: str
    line: int
    vars: Mapping[str, Any] = field(default_factory=dict)
    vars_files_vars: Mapping[str, Any] = field(default_factory=dict)
    tasks: tuple[Task, ...] = ()


@dataclass(frozen=True, slots=True)
class Playbook:
    """A whole playbook file, validated; nothing in it has run yet."""

    path: Path
    plays: tuple[Play, ...]

    @property
    def stem(self) -> str:
        return self.path.stem


def task_selected(task: Task, tags: tuple[str, ...], skip_tags: tuple[str, ...]) -> bool:
    """Whether ``--tags`` / ``--skip-tags`` keep a task, with Ansible's ``always``/``never``/``tagged``.

    >>> t = Task("t", "debug", {}, "pb.yml", 3, tags=("sample",))
    >>> task_selected(t, (), ()), task_selected(t, ("report",), ()), task_selected(t, (), ("sample",))
    (True, False, False)
    >>> never = Task("n", "debug", {}, "pb.yml", 4, tags=("never", "debug"))
    >>> task_selected(never, (), ()), task_selected(never, ("debug",), ())
    (False, True)
    """
    own = set(task.tags)
    wanted = set(tags) or {"all"}
    skipped = set(skip_tags)
    if "always" in own and "always" not in skipped:
        run = True
    elif "never" in own:
        run = bool(own & (wanted - {"all", "tagged"}))
    else:
        run = (
            "all" in wanted
            or bool(own & wanted)
            or ("tagged" in wanted and bool(own))
            or ("untagged" in wanted and not own)
        )
    if not run:
        return False
    excluded = own & skipped or ("tagged" in skipped and own) or ("untagged" in skipped and not own)
    return not excluded
