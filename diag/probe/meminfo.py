"""Parse ``/proc/meminfo`` into a dict of KiB values (``kB`` in the file is KiB).

``MemAvailable`` only exists since 3.14; ``HugePages_*`` lines are page counts, not KiB.

>>> mi = parse_meminfo(["MemTotal:        8058828 kB", "MemFree:          221156 kB",
...                     "HugePages_Total:       0"])
>>> mi["MemTotal"], mi["HugePages_Total"], "MemAvailable" in mi
(8058828, 0, False)
"""

from __future__ import annotations

from diag.errors import ParseError


def parse_meminfo(lines: tuple[str, ...] | list[str], source: str = "/proc/meminfo") -> dict[str, int]:
    """``Name:  value [kB]`` lines; a line of another shape is a ParseError quoting it."""
    values: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        name, colon, rest = line.partition(":")
        parts = rest.split()
        if not colon or not parts or len(parts) > 2:
            raise ParseError(f"expected 'Name: value [kB]': {line!r}", where=f"{source} line {n}")
        try:
            values[name.strip()] = int(parts[0])
        except ValueError:
            raise ParseError(f"value is not an integer: {line!r}", where=f"{source} line {n}") from None
    return values
