"""``--limit`` host patterns, evaluated the way ansible's ``InventoryManager`` does.

In: an ``Inventory`` and a pattern string (``web:&prod:!web03``, ``a,b``, ``web*``, ``~re``,
``@file``, ``group[0:2]``). Out: the matching hosts in the order of ``all`` (ansible applies a
limit as a subset of the play's hosts) and the warnings ansible would print; a pattern that
cannot be evaluated (bad regex, subscript out of range, missing @file) raises ``InventoryError``.

>>> split_host_pattern("web*:&prod:!web03")
['web*', '&prod', '!web03']
>>> split_host_pattern("a, b[1], c[2:3]")
['a', 'b[1]', 'c[2:3]']
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import TYPE_CHECKING

from diag.inventory.ranges import parse_address
from diag.shared.errors import InventoryError
from diag.shared.files import read_text

if TYPE_CHECKING:
    from diag.inventory.records import Host, HostGroups

LOCALHOST = ("127.0.0.1", "localhost", "::1")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_SPLIT = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def split_host_pattern(pattern: str) -> list[str]:
    """Split on ``,`` or, failing that, on ``:`` outside brackets (unless the whole is an address)."""
    if "," in pattern:
        parts = pattern.split(",")
    else:
        try:
            parse_address(pattern, allow_ranges=True)
            parts = [pattern]
        except ValueError:
            parts = _SPLIT.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def _order(patterns: list[str]) -> list[str]:
    regular = [p for p in patterns if p and p[0] not in "!&"]
    intersect = [p for p in patterns if p and p[0] == "&"]
    exclude = [p for p in patterns if p and p[0] == "!"]
    return (regular or ["all"]) + intersect + exclude


class _Matcher:
    def __init__(self, inv: HostGroups) -> None:
        self.inv = inv
        self.warnings: list[str] = []

    def evaluate(self, patterns: list[str]) -> list[Host]:
        hosts: list[Host] = []
        for pattern in _order(patterns):
            if pattern in self.inv.hosts:
                hosts.append(self.inv.hosts[pattern])
                continue
            matched = self.match_one(pattern)
            names = {h.name for h in matched}
            if pattern[0] == "!":
                hosts = [h for h in hosts if h.name not in names]
            elif pattern[0] == "&":
                hosts = [h for h in hosts if h.name in names]
            else:
                existing = {h.name for h in hosts}
                hosts.extend(h for h in matched if h.name not in existing)
        return list({h.name: h for h in reversed(hosts)}.values())[::-1]

    def match_one(self, pattern: str) -> list[Host]:
        if pattern[0] in "&!":
            pattern = pattern[1:]
        expr, subscript = _split_subscript(pattern)
        hosts = self.enumerate(expr)
        if not hosts or subscript is None:
            return hosts
        start, end = subscript
        if end is None:
            try:
                return [hosts[start]]
            except IndexError:
                raise InventoryError(f"No hosts matched the subscripted pattern '{pattern}'") from None
        return hosts[start : (len(hosts) - 1 if end == -1 else end) + 1]

    def enumerate(self, pattern: str) -> list[Host]:
        results: list[Host] = []
        groups = _match_list(list(self.inv.groups), pattern)
        for group in groups:
            results.extend(self.inv.group_hosts(group))
        if not groups or pattern[0] == "~" or any(c in pattern for c in ".?*["):
            results.extend(self.inv.hosts[h] for h in _match_list(list(self.inv.hosts), pattern))
        if not results and not groups and pattern != "all":
            self.warnings.append(f"Could not match supplied host pattern, ignoring: {pattern}")
        return results


def _split_subscript(pattern: str) -> tuple[str, tuple[int, int | None] | None]:
    if pattern[0] == "~":
        return pattern, None
    match = _SUBSCRIPT.match(pattern)
    if not match:
        return pattern, None
    expr, index, start, _sep, end = match.groups()
    if index:
        return expr, (int(index), None)
    return expr, (int(start), int(end) if end else -1)


def _match_list(items: list[str], pattern: str) -> list[str]:
    try:
        regex = re.compile(pattern[1:] if pattern[0] == "~" else fnmatch.translate(pattern))
    except re.error as exc:
        raise InventoryError(f"Invalid host list pattern: {pattern} ({exc})") from None
    return [item for item in items if regex.match(item)]


def _limit_patterns(pattern: str, base_dir: str | None) -> list[str]:
    results: list[str] = []
    for part in split_host_pattern(pattern):
        if part[0] != "@":
            results.append(part)
            continue
        path = Path(base_dir or ".") / part[1:]
        if not path.exists():
            raise InventoryError(
                f"Unable to find limit file {path}", hint="give @FILE with one pattern per line"
            )
        if not path.is_file():
            raise InventoryError(f'Limit starting with "@" must be a file, not a directory: {path}')
        text = read_text(path, what="limit file", error=InventoryError)
        results.extend(line.strip() for line in text.split("\n"))
    return results


def select(inv: HostGroups, pattern: str) -> tuple[list[Host], list[str]]:
    """Hosts of ``all`` that ``pattern`` matches, in ``all``'s order, plus ansible's warnings."""
    matcher = _Matcher(inv)
    wanted = {h.name for h in matcher.evaluate(_limit_patterns(pattern, inv.base_dir))}
    universe = [*matcher.evaluate(["all"]), *(inv.hosts[n] for n in inv.implicit_hosts)]
    hosts = [h for h in universe if h.name in wanted]
    if not hosts:
        matcher.warnings.append(f"No hosts matched for pattern: {pattern}")
    return hosts, matcher.warnings
