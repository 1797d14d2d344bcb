"""Ansible's INI inventory format -> calls on an ``InventoryData``, as ansible's ``ini`` plugin makes them.

In: the text of one INI inventory file and its path (for messages). Out: groups, hosts, children
and vars added to the ``InventoryData``; an ``InventoryError`` naming ``file:line`` on the first
bad line. Values go through ``ast.literal_eval`` like ansible's ``_parse_value``: ``2`` is an int,
``"['/dev/sda']"`` a list, while ``true`` or ``{{ jinja }}`` stay strings.

>>> from diag.inventory.data import InventoryData
>>> inv = InventoryData()
>>> parse_ini('''
... [web]
... web[1:2] ansible_port=2222 devices="['/dev/sda']"
... [web:vars]
... ansible_become=true   ; a comment
... debug_level=2
... ''', "hosts", inv)
>>> inv.hosts["web2"].vars
{'ansible_port': 2222, 'devices': ['/dev/sda']}
>>> inv.groups["web"].vars
{'ansible_become': 'true   ; a comment', 'debug_level': 2}
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from diag.inventory.data import BuildError, InventoryData, UnsafeText
from diag.inventory.ranges import expand_host_pattern
from diag.shared.errors import InventoryError

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")
# A host line without quotes, escapes or comments: shlex's split is then a split on its whitespace
# (shlex's own four characters, not str.split's unicode set). ~1 ms of shlex per 1,000 host lines saved.
_SHLEX_PLAIN = re.compile(r"[^\"'\\#]*")
_SHLEX_SPACE = re.compile(r"[ \t\r\n]+")
# Values literal_eval can only refuse: a name or path (letters, digits, _ . / -, not starting with a
# digit or a dot) other than True/False/None, and dotted numbers like an IPv4 address (a syntax error).
# Returned as the text at once: literal_eval's refusal costs ~20 us, a 1,000-host inventory has 4,000.
_NOT_LITERAL = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*|[0-9]+(?:\.[0-9]+){2,}")
_LITERAL_NAMES = frozenset({"True", "False", "None"})
_DECIMAL = re.compile(r"[1-9][0-9]{0,17}|0")  # an int literal_eval would make (no "0123", no "1_000")


def is_section_header(line: str) -> bool:
    """Whether the stripped ``line`` is an INI section header: ``[group]``, ``[group:vars]``."""
    return _SECTION.match(line) is not None


def split_host_line(line: str) -> list[str]:
    """A host line's words as ``shlex.split(line, comments=True)`` gives them (its ``ValueError`` too).

    >>> split_host_line("web1  ansible_port=22\tx=1"), split_host_line("a b='c d' # e")
    (['web1', 'ansible_port=22', 'x=1'], ['a', 'b=c d'])
    """
    if _SHLEX_PLAIN.fullmatch(line):
        return [word for word in _SHLEX_SPACE.split(line) if word]
    return shlex.split(line, comments=True)


def parse_value(text: str) -> Any:
    """A literal if Python's ``literal_eval`` reads one, else the text unchanged (ansible's rule).

    >>> parse_value("2"), parse_value("true"), parse_value("[]"), parse_value("{{ x }}")
    (2, 'true', [], '{{ x }}')
    >>> parse_value("10.0.0.1"), parse_value("/keys/id_ed25519"), parse_value("True"), parse_value(".5")
    ('10.0.0.1', '/keys/id_ed25519', True, 0.5)
    >>> parse_value("2222"), parse_value("0"), parse_value("00"), parse_value("0123")
    (2222, 0, 0, '0123')
    """
    if _NOT_LITERAL.fullmatch(text) and text not in _LITERAL_NAMES:
        return text
    if _DECIMAL.fullmatch(text):  # a port
        return int(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value: Any = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _coerce(value)


def _coerce(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return UnsafeText(value.decode("utf-8", errors="surrogateescape"))
    return value


class _IniParser:
    def __init__(self, path: str, inv: InventoryData) -> None:
        self.path = path
        self.inv = inv
        self.lineno = 0
        # name -> (line, state, parents): [g:vars] / [p:children] entries naming a group not yet declared
        self.pending: dict[str, tuple[int, str, list[str]]] = {}

    def fail(self, message: str, lineno: int | None = None) -> InventoryError:
        where = f"{self.path}:{lineno or self.lineno}"
        return InventoryError(message, where=where, hint="fix the INI inventory line shown")

    def parse(self, text: str) -> None:
        group, state = "ungrouped", "hosts"
        for self.lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            section = _SECTION.match(line)
            if section:
                group, state = self._section(section.group(1), section.group(2) or "hosts")
                continue
            if line.startswith("[") and line.endswith("]"):
                raise self.fail(
                    f"Invalid section entry: '{line}'. Please make sure that there are no spaces "
                    "in the section entry, and that there are no other invalid characters"
                )
            try:
                self._line(line, group, state)
            except BuildError as exc:
                raise self.fail(str(exc)) from None
        self._check_pending()

    def _section(self, group: str, state: str) -> tuple[str, str]:
        if state not in ("hosts", "children", "vars"):
            raise self.fail(f"Section [{group}:{state}] has unknown type: {state}")
        if group not in self.inv.groups:
            # [g:vars] alone does not declare g; remember it and complain at the end if nothing does.
            if state == "vars" and group not in self.pending:
                self.pending[group] = (self.lineno, state, [])
            self.inv.add_group(group)
        if group in self.pending and state != "vars":
            if self.pending[group][1] == "children":
                self._add_pending_children(group)
            elif self.pending[group][1] == "vars":
                del self.pending[group]
        return group, state

    def _add_pending_children(self, group: str) -> None:
        for parent in self.pending[group][2]:
            self.inv.add_child(parent, group)
            if parent in self.pending and self.pending[parent][1] == "children":
                self._add_pending_children(parent)
        del self.pending[group]

    def _line(self, line: str, group: str, state: str) -> None:
        if state == "hosts":
            self._host_line(line, group)
        elif state == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise self.fail(f"Expected key=value, got: {line}")
            self.inv.set_group_var(group, key.strip(), parse_value(value.strip()))
        else:
            match = _GROUP_NAME.match(line)
            if not match:
                raise self.fail(f"Expected group name, got: {line}")
            child = match.group(1)
            if child in self.inv.groups:
                self.inv.add_child(group, child)
            elif child in self.pending:
                self.pending[child][2].append(group)
            else:
                self.pending[child] = (self.lineno, state, [group])

    def _host_line(self, line: str, group: str) -> None:
        try:
            tokens = split_host_line(line)
        except ValueError as exc:
            raise self.fail(f"Error parsing host definition '{line}': {exc}") from None
        try:
            hosts, port = expand_host_pattern(tokens[0])
        except ValueError as exc:
            raise self.fail(f"Invalid host range in '{tokens[0]}': {exc}") from None
        if tokens[0].strip().endswith(":") and port is None:
            raise self.fail(
                f"Invalid host pattern '{tokens[0]}' supplied, ending in ':' is not allowed, "
                "this character is reserved to provide a port."
            )
        if any(h.strip() == "---" for h in hosts):
            raise self.fail(
                f"Invalid host pattern '{tokens[0]}': '---' is normally a sign this is a YAML file"
            )
        variables: dict[str, Any] = {}
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if not sep:
                raise self.fail(f"Expected key=value host variable assignment, got: {token}")
            variables[key] = parse_value(value)
        for host in hosts:
            self.inv.add_host(host, group, port)
            for key, value in variables.items():
                self.inv.set_host_var(host, key, value)

    def _check_pending(self) -> None:
        for name, (lineno, state, parents) in self.pending.items():
            if state == "vars":
                raise self.fail(f"Section [{name}:vars] not valid for undefined group {name!r}.", lineno)
            raise self.fail(f"Section [{parents[-1]}:children] includes undefined group {name!r}.", lineno)


def parse_ini(text: str, path: str, inv: InventoryData) -> None:
    """Add everything the INI ``text`` (read from ``path``) declares to ``inv``."""
    _IniParser(path, inv).parse(text)
