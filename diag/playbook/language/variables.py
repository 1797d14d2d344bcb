"""Variables: ``-e`` values from the command line, and the per-task scope in Ansible's precedence.

In: ``-e`` strings (``k=v k2=v2``, a JSON/YAML mapping, ``@file``); the variable layers of a task.
Out: a dict of extra vars; the merged scope a task's templates see, lowest to highest:
play vars < vars_files < inventory host vars < task vars < registered results and set_fact < extra vars.

>>> parse_extra_vars(["interval_s=1 name='a b'", '{"top_n": 5}'])
{'interval_s': 1, 'name': 'a b', 'top_n': 5}
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from diag.playbook.language.expressions import lazy_vars
from diag.shared.errors import DiagError, UsageError
from diag.shared.files import read_text
from diag.shared.yamlsafe import load_text

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _typed(text: str) -> Any:
    """A ``-e k=v`` value, YAML-typed (``1`` -> 1, ``true`` -> True); what YAML rejects stays a string."""
    try:
        value = load_text(text)
    except yaml.YAMLError:
        return text
    if value is None and text.strip() not in ("null", "~"):
        return text
    return value if isinstance(value, str | int | float | bool | list | dict) or value is None else text


def _check_names(values: Mapping[Any, Any], source: str) -> dict[str, Any]:
    for key in values:
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            raise UsageError(f"-e {source}: {key!r} is not a valid variable name")
    return dict(values)


def parse_extra_var(text: str, *, cwd: Path | None = None) -> dict[str, Any]:
    """One ``-e`` value -> variables; ``UsageError`` if malformed, ``DiagError`` for a missing file."""
    stripped = text.strip()
    if stripped.startswith("@"):
        path = Path(stripped[1:]).expanduser()
        path = path if path.is_absolute() or cwd is None else cwd / path
        try:
            content = read_text(path, what="extra vars file", error=UsageError, where=f"-e {text}")
        except FileNotFoundError:
            raise DiagError(f"extra vars file {str(path)!r} not found", where=f"-e {text}") from None
        try:
            data = load_text(content)
        except yaml.YAMLError as exc:
            raise UsageError(
                f"cannot read extra vars file {str(path)!r}: {exc}", where=f"-e {text}"
            ) from None
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise UsageError(f"extra vars file {str(path)!r} must hold a mapping", where=f"-e {text}")
        return _check_names(data, text)
    if stripped.startswith("{"):
        try:
            data = load_text(stripped)
        except yaml.YAMLError as exc:
            raise UsageError(f"-e {text!r} is not a valid JSON/YAML mapping: {exc}") from None
        if not isinstance(data, Mapping):
            raise UsageError(f"-e {text!r} must be a mapping")
        return _check_names(data, text)
    try:
        words = shlex.split(stripped)
    except ValueError as exc:
        raise UsageError(f"-e {text!r}: {exc}", hint="quote values with spaces: -e \"name='a b'\"") from None
    if not words:
        raise UsageError("-e needs a value", hint="e.g. -e interval_s=1")
    out: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise UsageError(
                f"-e {text!r}: {word!r} is not key=value",
                hint="use -e key=value [key2=value2], -e '{\"key\": 1}' or -e @vars.yml",
            )
        out[key] = _typed(value)
    return _check_names(out, text)


def parse_extra_vars(values: Iterable[str], *, cwd: Path | None = None) -> dict[str, Any]:
    """All ``-e`` values, later ones overriding earlier ones (as in Ansible)."""
    merged: dict[str, Any] = {}
    for text in values:
        merged.update(parse_extra_var(text, cwd=cwd))
    return merged


def play_scope(
    magic: Mapping[str, Any],
    play_vars: Mapping[str, Any],
    vars_files_vars: Mapping[str, Any],
    host_vars: Mapping[str, Any],
) -> dict[str, Any]:
    """What every task of a play on one host starts from: magic < play vars < vars_files < inventory.

    Values from the playbook and inventory may be templates and are rendered when read (``Lazy``).
    Built once per host and play, since wrapping them costs a scan of every value.
    """
    return {**magic, **lazy_vars(play_vars), **lazy_vars(vars_files_vars), **lazy_vars(host_vars)}


def task_scope(
    *,
    base: Mapping[str, Any],
    task_vars: Mapping[str, Any],
    host_facts: Mapping[str, Any],
    extra_vars: Mapping[str, Any],
) -> dict[str, Any]:
    """The variables one task sees: ``play_scope`` < task vars < registered/set_fact < ``-e``.

    ``extra_vars`` must already be wrapped with ``lazy_vars`` (once per run); registered results and
    facts are data and never templated.

    >>> base = play_scope({}, {"n": 1, "m": 1}, {}, {"n": 2})
    >>> scope = task_scope(base=base, task_vars={}, host_facts={}, extra_vars=lazy_vars({"m": 9}))
    >>> scope["n"], scope["m"]
    (2, 9)
    """
    return {**base, **lazy_vars(task_vars), **host_facts, **extra_vars}
