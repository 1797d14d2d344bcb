"""Playbook YAML -> a validated ``Playbook``, or one ``PlaybookError`` listing every problem found.

In: a playbook path. Out: ``Playbook`` (``- import_playbook: other.yml`` entries replaced by the other
file's plays, in place, with file:line of each and a cycle refused; vars_files read, every template
and ``when`` parsed, every module and argument checked), so nothing can fail for a reason visible in
the file once hosts run.
Each problem names file:line, the task, and a hint (known modules, allowed keys, Jinja's message).
``--syntax-check`` is exactly this step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from diag.playbook.language.expressions import ExpressionError, Templar
from diag.playbook.language.loader import MarkedList, MarkedMap, load_yaml_file
from diag.playbook.language.model import PLAY_KEYS, TASK_KEYS, Play, Playbook, Task
from diag.playbook.modules import MODULES
from diag.playbook.modules.base import Module, arg_problems
from diag.shared.errors import PlaybookError
from diag.shared.secrets import is_secret_name

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys of a ``- import_playbook: file`` entry (Ansible's; ``when`` and tags are not supported here).
IMPORT_KEYS = ("import_playbook", "name", "vars")


def _line(node: Any, key: Any = None) -> int:
    if isinstance(node, MarkedMap):
        return node.line_of(key) if key is not None else node.line
    return getattr(node, "line", 0)


class _Checker:
    """Walks the YAML and collects problems instead of stopping at the first."""

    def __init__(self, path: Path, parent: _Checker | None = None) -> None:
        self.path = path
        self.file = str(path)
        self.templar: Templar = parent.templar if parent else Templar()
        self.problems: list[PlaybookError] = parent.problems if parent else []
        # the files being imported, outermost first, to refuse a cycle (a.yml -> b.yml -> a.yml)
        self.stack: tuple[Path, ...] = (*(parent.stack if parent else ()), path.resolve())

    def problem(self, line: int, message: str, hint: str | None = None) -> None:
        self.problems.append(PlaybookError(message, where=f"{self.file}:{line}", hint=hint))

    def unknown_keys(self, raw: MarkedMap, allowed: tuple[str, ...], label: str) -> None:
        """A problem, at its line, for each key of ``raw`` that is not in ``allowed``."""
        for key in raw:
            if key not in allowed:
                hint = f"allowed: {', '.join(allowed)}"
                self.problem(raw.line_of(key), f"{label}: unknown key {key!r}", hint)

    def expression(self, line: int, label: str, expression: Any) -> None:
        try:
            if isinstance(expression, str) and "{{" not in expression:
                self.templar.check_expression(expression)
            else:
                self.templar.check_template(expression)
        except ExpressionError as exc:
            self.problem(line, f"{label}: {exc.expression!r} does not parse: {exc.detail}")

    def template(self, line: int, label: str, value: Any, *, secret: bool = False) -> None:
        try:
            self.templar.check_template(value)
        except ExpressionError as exc:
            if secret:  # a secret's template holds the secret: say where, not what
                self.problem(
                    line, f"{label} (a secret, not shown) has a template that does not parse: {exc.detail}"
                )
            else:
                self.problem(line, f"{label}: template {exc.expression!r} does not parse: {exc.detail}")

    # -- plays --------------------------------------------------------------------------------------

    def playbook(self, data: Any) -> Playbook:
        if not isinstance(data, list) or not data:
            self.problem(
                _line(data) or 1, "a playbook must be a non-empty list of plays", "start with '- hosts: all'"
            )
            return Playbook(self.path, ())
        plays = []
        for index, raw in enumerate(data):
            line = data.line_of(index) if isinstance(data, MarkedList) else 1
            if not isinstance(raw, MarkedMap):
                self.problem(line, f"play #{index + 1} must be a mapping, got {type(raw).__name__}")
                continue
            if "import_playbook" in raw:
                plays.extend(self.import_playbook(raw))
                continue
            plays.append(self.play(raw, index))
        return Playbook(self.path, tuple(plays))

    def import_playbook(self, raw: MarkedMap) -> list[Play]:
        """Ansible's ``- import_playbook: other.yml`` (path relative to this file): its plays, in place.

        ``vars:`` beside it apply to each imported play (over the play's own vars, as in Ansible).
        """
        line = raw.line_of("import_playbook")
        self.unknown_keys(raw, IMPORT_KEYS, "import_playbook")
        ref = raw["import_playbook"]
        if not isinstance(ref, str) or not ref.strip() or "{{" in ref:
            self.problem(
                line, f"import_playbook needs a file name, got {ref!r}", "e.g. import_playbook: triage.yml"
            )
            return []
        path = Path(ref).expanduser()
        path = path if path.is_absolute() else self.path.parent / path
        if path.resolve() in self.stack:
            chain = " -> ".join([*(str(p.name) for p in self.stack), path.name])
            self.problem(
                line, f"import_playbook cycle: {chain}", "a playbook cannot import itself, even indirectly"
            )
            return []
        try:
            data = load_yaml_file(path, where=f"{self.file}:{line}", what="imported playbook")
        except PlaybookError as exc:
            self.problems.append(exc)
            return []
        extra = self.vars_mapping(raw, "vars", f"import_playbook {ref!r}")
        imported = _Checker(path, parent=self).playbook(data).plays
        return [replace(play, vars={**play.vars, **extra}) if extra else play for play in imported]

    def play(self, raw: MarkedMap, index: int) -> Play:
        name = str(raw.get("name") or f"play #{index + 1}")
        self.unknown_keys(raw, PLAY_KEYS, f"play {name!r}")
        hosts = raw.get("hosts")
        if isinstance(hosts, list):
            hosts = ":".join(str(h) for h in hosts)
        if not hosts or not isinstance(hosts, str):
            self.problem(
                raw.line, f"play {name!r} has no 'hosts'", "add 'hosts: all' (or a group or pattern)"
            )
            hosts = ""
        play_vars = self.vars_mapping(raw, "vars", f"play {name!r}")
        files_vars = self.vars_files(raw, name)
        tasks_raw = raw.get("tasks") or []
        tasks: list[Task] = []
        if not isinstance(tasks_raw, list):
            self.problem(raw.line_of("tasks"), f"play {name!r}: 'tasks' must be a list")
        else:
            for i, task in enumerate(tasks_raw):
                line = tasks_raw.line_of(i) if isinstance(tasks_raw, MarkedList) else raw.line
                checked = self.task(task, line)
                if checked is not None:
                    tasks.append(checked)
        return Play(name, hosts, self.file, raw.line, play_vars, files_vars, tuple(tasks))

    def vars_mapping(self, raw: MarkedMap, key: str, label: str) -> dict[str, Any]:
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(raw.line_of(key), f"{label}: '{key}' must be a mapping of name: value")
            return {}
        for name, item in value.items():
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                self.problem(_line(value, name), f"{label}: variable name {name!r} is not a valid identifier")
            secret = isinstance(name, str) and is_secret_name(name)
            self.template(_line(value, name), f"{label}: variable {name!r}", item, secret=secret)
        return dict(value)

    def vars_files(self, raw: MarkedMap, play: str) -> dict[str, Any]:
        refs = raw.get("vars_files") or []
        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(refs, list):
            self.problem(raw.line_of("vars_files"), f"play {play!r}: 'vars_files' must be a list of paths")
            return {}
        merged: dict[str, Any] = {}
        for i, ref in enumerate(refs):
            line = refs.line_of(i) if isinstance(refs, MarkedList) else raw.line_of("vars_files")
            where = f"{self.file}:{line}"
            path = Path(str(ref)).expanduser()
            path = path if path.is_absolute() else self.path.parent / path
            try:
                data = load_yaml_file(path, where=where, what="vars file")
            except PlaybookError as exc:
                self.problems.append(exc)
                continue
            if data is None:
                continue
            if not isinstance(data, Mapping):
                self.problem(line, f"vars file {str(path)!r} must hold a mapping of name: value")
                continue
            self.vars_file_values(path, data)
            merged.update(data)
        return merged

    def vars_file_values(self, path: Path, data: Mapping[Any, Any]) -> None:
        """A vars file's names and templates, checked now with the file's own lines (not at run time,
        blamed on the first task that reads them)."""
        for name, item in data.items():
            where = f"{path}:{_line(data, name)}"
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                self.problems.append(
                    PlaybookError(f"variable name {name!r} is not a valid identifier", where=where)
                )
                continue
            try:
                self.templar.check_template(item)
            except ExpressionError as exc:
                quoted = "(a secret, not shown)" if is_secret_name(name) else repr(exc.expression)
                self.problems.append(
                    PlaybookError(
                        f"variable {name!r} has a template {quoted} that does not parse: {exc.detail}",
                        where=where,
                    )
                )

    # -- tasks --------------------------------------------------------------------------------------

    def task(self, raw: Any, line: int) -> Task | None:
        if not isinstance(raw, MarkedMap):
            self.problem(line, f"a task must be a mapping, got {type(raw).__name__}: {raw!r}")
            return None
        known = ", ".join(sorted(MODULES))
        modules = [k for k in raw if k in MODULES]
        unknown = [k for k in raw if k not in MODULES and k not in TASK_KEYS]
        label_name = raw.get("name") or (modules[0] if modules else "(unnamed)")
        label = f"task {str(label_name)!r}"
        if not modules:
            if len(unknown) == 1:
                self.problem(
                    raw.line_of(unknown[0]), f"{label}: unknown module {unknown[0]!r}", f"known: {known}"
                )
            elif unknown:
                self.problem(
                    raw.line,
                    f"{label}: no known module among {', '.join(map(repr, unknown))}",
                    f"known modules: {known}; task keys: {', '.join(TASK_KEYS)}",
                )
            else:
                self.problem(raw.line, f"{label}: no module", f"add one of: {known}")
            return None
        for key in unknown:
            self.problem(
                raw.line_of(key),
                f"{label}: unknown key {key!r}",
                f"allowed: {', '.join(TASK_KEYS)} + one module",
            )
        if len(modules) > 1:
            self.problem(
                raw.line, f"{label}: more than one module ({', '.join(modules)})", "one module per task"
            )
        module = modules[0]
        args = self.module_args(raw, module, label)
        when = self.when(raw, label)
        tags = raw.get("tags")
        if tags is None:
            tags = ()
        elif isinstance(tags, str):
            tags = tuple(t.strip() for t in tags.split(",") if t.strip())
        elif isinstance(tags, list):
            tags = tuple(str(t) for t in tags)
        else:
            self.problem(raw.line_of("tags"), f"{label}: 'tags' must be a string or a list")
            tags = ()
        register = raw.get("register")
        if register is not None and (not isinstance(register, str) or not _IDENTIFIER.match(register)):
            self.problem(raw.line_of("register"), f"{label}: register name {register!r} is not an identifier")
            register = None
        ignore = raw.get("ignore_errors", False)
        if not isinstance(ignore, bool):
            self.problem(raw.line_of("ignore_errors"), f"{label}: 'ignore_errors' must be true or false")
            ignore = False
        task_vars = self.vars_mapping(raw, "vars", label)
        name = str(raw.get("name") or module)
        return Task(name, module, args, self.file, raw.line, register, when, tags, ignore, task_vars)

    def when(self, raw: MarkedMap, label: str) -> tuple[str, ...]:
        if "when" not in raw:
            return ()
        value = raw["when"]
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            text = str(item) if isinstance(item, str | bool | int | float) else None
            if text is None:
                self.problem(raw.line_of("when"), f"{label}: 'when' must be an expression or a list of them")
                continue
            if "{{" in text or "{%" in text:
                self.problem(
                    raw.line_of("when"),
                    f"{label}: 'when' is already an expression: {text!r}",
                    "write it without {{ }}, e.g. when: s.rates.majflt_per_s > 10",
                )
                continue
            self.expression(raw.line_of("when"), f"{label}: when", text)
            out.append(text)
        return tuple(out)

    def module_args(self, raw: MarkedMap, module: str, label: str) -> dict[str, Any]:
        cls = MODULES[module]
        line = raw.line_of(module)
        args = raw[module]
        if args is None:
            args = {}
        if isinstance(args, str) and cls.free_form:
            args = {cls.free_form: args}
        if not isinstance(args, Mapping):
            form = f" or a string ({cls.free_form})" if cls.free_form else ""
            self.problem(line, f"{label}: arguments of {module!r} must be a mapping{form}")
            return {}
        args = dict(args)
        self.check_args(cls, args, line, f"{label} ({module})")
        return args

    def check_args(self, cls: type[Module], args: dict[str, Any], line: int, label: str) -> None:
        if cls.any_args:
            for key, value in args.items():
                if not isinstance(key, str) or not _IDENTIFIER.match(key):
                    self.problem(line, f"{label}: {key!r} is not a valid variable name")
                self.template(line, f"{label}: {key}", value)
        else:
            allowed = ", ".join(cls.args)
            for key in args:
                if key not in cls.args:
                    self.problem(line, f"{label}: unknown argument {key!r}", f"allowed: {allowed}")
            for key, spec in cls.args.items():
                if spec.required and key not in args:
                    self.problem(line, f"{label}: missing required argument {key!r}", spec.help or None)
                if key not in args:
                    continue
                value = args[key]
                if (
                    spec.choices
                    and isinstance(value, str)
                    and "{{" not in value
                    and value not in spec.choices
                ):
                    self.problem(
                        line,
                        f"{label}: {key}={value!r} is not allowed",
                        f"choose one of: {', '.join(spec.choices)}",
                    )
                if spec.kind == "expression":
                    for item in value if isinstance(value, list) else [value]:
                        self.expression(line, f"{label}: {key}", item)
                else:
                    self.template(line, f"{label}: {key}", value)
        if not cls.any_args:
            for key, problem in arg_problems(cls.args, args):
                self.problem(line, f"{label}: {key} {problem}", cls.args[key].help or None)
        for message, hint in cls().check_args(args):
            self.problem(line, f"{label}: {message}", hint)


def load_playbook(path: Path) -> Playbook:
    """Read and validate ``path``; raise one ``PlaybookError`` naming every problem (file:line each)."""
    checker = _Checker(path)
    playbook = checker.playbook(load_yaml_file(path, what="playbook"))
    if len(checker.problems) == 1:
        raise checker.problems[0]
    if checker.problems:
        listing = "\n".join(p.render() for p in checker.problems)
        raise PlaybookError(f"{len(checker.problems)} problems in the playbook:\n{listing}", where=str(path))
    return playbook
