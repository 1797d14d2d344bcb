"""What ``pfdiag run --list-tasks`` and ``--list-hosts`` print: the plan, before anything runs.

In: the playbook's path and, per play, its tasks or the hosts its pattern selects. Out: text in the
layout of ``ansible-playbook --list-tasks`` / ``--list-hosts``; host names escaped (they may come from
an inventory plugin).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from diag.playbook.language.model import Play, Task
from diag.shared.escape import escape_terminal


def _play_header(index: int, play: Play) -> str:
    return f"  play #{index} ({play.hosts}): {play.name}"


def render_syntax_ok(path: Path | str) -> str:
    """``--syntax-check``: the playbook that passed."""
    return f"playbook: {path}"


def render_task_list(playbook: str, plays: Sequence[tuple[Play, Sequence[Task]]]) -> str:
    """``--list-tasks``: each play's tasks with their tags."""
    lines = [f"playbook: {playbook}\n"]
    for i, (play, tasks) in enumerate(plays, 1):
        lines.append(_play_header(i, play) + "\n    tasks:")
        lines.extend(f"      {task.name}\tTAGS: [{', '.join(task.tags)}]" for task in tasks)
    return "\n".join(lines)


def render_host_list(playbook: str, plays: Sequence[tuple[Play, Sequence[str]]]) -> str:
    """``--list-hosts``: each play's pattern and the hosts it selects."""
    lines = [f"playbook: {playbook}\n"]
    for i, (play, hosts) in enumerate(plays, 1):
        lines.append(_play_header(i, play) + f"\n    pattern: {play.hosts!r}\n    hosts ({len(hosts)}):")
        lines.extend(f"      {escape_terminal(name)}" for name in hosts)
    return "\n".join(lines)
