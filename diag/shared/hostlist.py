"""Host lists folded into ranges the way ClusterShell's ``nodeset -f`` does: ``web[01-03,05]``.

In: host names. Out: one short string, sorted, zero padding kept, for report cells and headlines.
Only the last run of digits in a name is folded (``n01.east`` folds on ``01``, keeping ``.east``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_LAST_DIGITS = re.compile(r"^(.*?)(\d+)(\D*)$")


def _ranges(numbers: list[str]) -> str:
    """``["01", "02", "03", "05"]`` -> ``01-03,05``; a number only joins a run of the same width.

    >>> _ranges(["01", "02", "03", "05", "9", "10"]), _ranges(["1", "02"])
    ('01-03,05,9-10', '1,02')
    """
    ordered = sorted(set(numbers), key=lambda n: (int(n), len(n)))
    parts: list[str] = []
    start = prev = ordered[0]
    for number in ordered[1:]:
        padded = number.startswith("0") or prev.startswith("0")
        if int(number) == int(prev) + 1 and (len(number) == len(prev) or not padded):
            prev = number
            continue
        parts.append(start if start == prev else f"{start}-{prev}")
        start = prev = number
    parts.append(start if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def fold_hosts(names: Iterable[str]) -> str:
    """Fold host names into ranges, sorted by prefix; names without digits are kept as they are.

    >>> fold_hosts(["web01", "web02", "web03", "web05", "db1"])
    'db1,web[01-03,05]'
    >>> fold_hosts(["n1.east", "n2.east", "n3.west", "localhost", "n2.east"])
    'localhost,n[1-2].east,n3.west'
    >>> fold_hosts([])
    ''
    """
    groups: dict[tuple[str, str], list[str]] = {}
    plain: set[str] = set()
    for name in names:
        match = _LAST_DIGITS.match(name)
        if match is None:
            plain.add(name)
        else:
            groups.setdefault((match[1], match[3]), []).append(match[2])
    folded = [(name, name) for name in plain]
    for (prefix, suffix), numbers in groups.items():
        unique = sorted(set(numbers))
        body = unique[0] if len(unique) == 1 else f"[{_ranges(unique)}]"
        folded.append((prefix + suffix, f"{prefix}{body}{suffix}"))
    return ",".join(text for _key, text in sorted(folded))


def shorten(folded: str, limit: int = 60) -> str:
    """Cut a folded list at a comma that keeps it under ``limit`` characters, saying how much is left.

    >>> shorten("a[1-3],b7,c[01-40],d9", limit=20)
    'a[1-3],b7 +2 more'
    >>> shorten("a[1-3],b7", limit=12)
    'a[1-3],b7'
    """
    if len(folded) <= limit:
        return folded
    items = _split_top(folded)
    keep = 1
    while (
        keep + 1 < len(items) and len(f"{','.join(items[: keep + 1])} +{len(items) - keep - 1} more") <= limit
    ):
        keep += 1
    return f"{','.join(items[:keep])} +{len(items) - keep} more"


def _split_top(folded: str) -> list[str]:
    """Split at commas outside brackets.

    >>> _split_top("a[1-3,5],b")
    ['a[1-3,5]', 'b']
    """
    items, depth, current = [], 0, ""
    for char in folded:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return items
