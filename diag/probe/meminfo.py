"""``/proc/meminfo``: parse it into a dict of KiB values (``kB`` in the file is KiB), and the ``Memory``
record of the second reading (``memory_values``; memory is a state, not a counter).

``MemAvailable`` only exists since 3.14; ``HugePages_*`` lines are page counts, not KiB.

>>> mi = parse_meminfo(["MemTotal:        8058828 kB", "MemFree:          221156 kB",
...                     "HugePages_Total:       0"])
>>> mi["MemTotal"], mi["HugePages_Total"], "MemAvailable" in mi
(8058828, 0, False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from diag.probe.source import TWICE, Source
from diag.shared.errors import ParseError


def parse_meminfo(lines: Sequence[str], source: str = "/proc/meminfo") -> dict[str, int]:
    """``Name:  value [kB]`` lines; a line of another shape is a ParseError quoting it."""
    # The fast path for well-formed lines (``int`` strips the blanks around the number); anything it
    # refuses goes through the checked loop, which says what and where (see parse_vmstat).
    with contextlib.suppress(ValueError):
        return {
            name.strip(): int(rest.removesuffix(" kB"))
            for name, rest in (line.split(":", 1) for line in lines)
        }
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


# The lines ``memory_values`` reads: the only ones the probe sends (of ~55).
READ = ("MemTotal", "MemAvailable", "Cached", "SwapTotal", "SwapFree", "Unevictable", "Mlocked")
SOURCE = Source("meminfo", "/proc/meminfo", TWICE, parse_meminfo, keep=READ)


@dataclass(frozen=True, slots=True)
class Memory:
    """Memory and swap totals in KiB, and shares of MemTotal / SwapTotal in percent."""

    mem_total_kib: int | None = None
    mem_available_kib: int | None = None
    mem_available_pct: float | None = None
    swap_total_kib: int | None = None
    swap_free_kib: int | None = None
    swap_used_pct: float | None = None
    mlocked_kib: int | None = None
    cached_kib: int | None = None
    unevictable_kib: int | None = None  # mlocked, ramfs, SHM_LOCKed: reclaim cannot free it
    mlocked_pct: float | None = None
    unevictable_pct: float | None = None


def pct(part: float | None, whole: float | None) -> float | None:
    """``part`` as percent of ``whole``, 2 decimals; None when either is unknown or whole is 0.

    >>> pct(1, 8), pct(1, 0), pct(None, 8)
    (12.5, None, None)
    """
    return round(100.0 * part / whole, 2) if part is not None and whole else None


def memory_values(mi: dict[str, int] | None, ne: dict[str, str]) -> Memory:
    """The ``Memory`` record of one reading; missing lines are None with their reason in ``ne``.

    >>> ne = {}
    >>> m = memory_values({"MemTotal": 1000, "MemAvailable": 250, "Unevictable": 10, "Mlocked": 5,
    ...                    "SwapTotal": 0, "SwapFree": 0}, ne)
    >>> m.mem_available_pct, m.unevictable_pct, m.mlocked_pct, ne
    (25.0, 1.0, 0.5, {'swap_used_pct': 'no swap configured (SwapTotal 0)'})
    """
    if mi is None:
        mi = {}
        ne["memory"] = "/proc/meminfo not read"
    total, avail = mi.get("MemTotal"), mi.get("MemAvailable")
    swap_total, swap_free = mi.get("SwapTotal"), mi.get("SwapFree")
    if avail is None:
        ne["mem_available_kib"] = "no MemAvailable in /proc/meminfo (kernel < 3.14)"
    if not swap_total:
        ne["swap_used_pct"] = "no swap configured (SwapTotal 0)"
    for key, line in (("unevictable_kib", "Unevictable"), ("mlocked_kib", "Mlocked")):
        if line not in mi:
            ne[key] = f"no {line} in /proc/meminfo (kernel < 2.6.28 or CONFIG_MMU off)"
    used = swap_total - swap_free if swap_total and swap_free is not None else None
    return Memory(
        mem_total_kib=total,
        mem_available_kib=avail,
        mem_available_pct=pct(avail, total),
        swap_total_kib=swap_total,
        swap_free_kib=swap_free,
        swap_used_pct=pct(used, swap_total),
        mlocked_kib=mi.get("Mlocked"),
        cached_kib=mi.get("Cached"),
        unevictable_kib=mi.get("Unevictable"),
        mlocked_pct=pct(mi.get("Mlocked"), total),
        unevictable_pct=pct(mi.get("Unevictable"), total),
    )
