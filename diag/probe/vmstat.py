"""Parse ``/proc/vmstat`` (``name value`` lines) into a dict, and pick counters by exact name.

Names drift across kernels (per-zone ``pgscan_direct_normal`` before 4.8, node-level
``pgscan_direct`` after; ``allocstall`` split per zone in 4.10), and line order shifts under
pressure, so counters are looked up by exact name only, never by prefix or position: summing by
prefix double-counts (``pgscan_direct_throttle``, ``pgsteal_anon``/``pgsteal_file``).

>>> vm = parse_vmstat(["pgfault 1191419", "pgmajfault 2961", "pgscan_direct_normal 12",
...                    "pgscan_direct_dma32 3", "pgscan_direct_throttle 0"])
>>> vm["pgmajfault"], vmstat_counter(vm, "pgscan_direct")
(2961, 15)
>>> parse_vmstat(["pgfault -3"])
Traceback (most recent call last):
diag.errors.ParseError: /proc/vmstat line 1: value is negative: 'pgfault -3'
"""

from __future__ import annotations

from diag.errors import ParseError

# Zone suffixes the kernel prints for per-zone event counters (TEXT_FOR_DMA ... TEXT_FOR_DEVICE).
ZONES = ("dma", "dma32", "normal", "high", "movable", "device")


def parse_vmstat(lines: tuple[str, ...] | list[str], source: str = "/proc/vmstat") -> dict[str, int]:
    """``name value`` pairs; a line of another shape is a ParseError quoting it."""
    counters: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ParseError(f"expected 'name value': {line!r}", where=f"{source} line {n}")
        try:
            value = int(parts[1])
        except ValueError:
            raise ParseError(f"value is not an integer: {line!r}", where=f"{source} line {n}") from None
        if value < 0:  # the kernel prints every field unsigned: a minus sign is damage
            raise ParseError(f"value is negative: {line!r}", where=f"{source} line {n}")
        counters[parts[0]] = value
    return counters


def vmstat_counter(vm: dict[str, int], name: str) -> int | None:
    """The node-level counter, else the sum of its exact per-zone names, else None (absent).

    >>> vmstat_counter({"allocstall_normal": 4, "allocstall_movable": 1}, "allocstall")
    5
    >>> vmstat_counter({"pgfault": 1}, "allocstall") is None
    True
    """
    if name in vm:
        return vm[name]
    zoned = [vm[f"{name}_{zone}"] for zone in ZONES if f"{name}_{zone}" in vm]
    return sum(zoned) if zoned else None
