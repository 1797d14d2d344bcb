"""``/proc/vmstat``, read at both snapshots: parse ``name value`` lines, pick counters by exact name,
and rate them over the interval (``vmstat_rates``: the vmstat part of ``Rates``).

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
diag.shared.errors.ParseError: /proc/vmstat line 1: value is negative: 'pgfault -3'
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from diag.probe.source import TWICE, Source
from diag.shared.errors import ParseError

# Zone suffixes the kernel prints for per-zone event counters (TEXT_FOR_DMA ... TEXT_FOR_DEVICE).
ZONES = ("dma", "dma32", "normal", "high", "movable", "device")


def parse_vmstat(lines: Sequence[str], source: str = "/proc/vmstat") -> dict[str, int]:
    """``name value`` pairs; a line of another shape is a ParseError quoting it."""
    # The fast path, for the ~190 well-formed lines of every snapshot: a dict built in one comprehension.
    # Anything it refuses - a blank line, another shape, a word for a number, a negative value, a name
    # twice (which could hide a negative one) - goes through the checked loop, which says what and where.
    with contextlib.suppress(ValueError):
        fast = {name: int(value) for name, value in map(str.split, lines)}
        if len(fast) == len(lines) and min(fast.values(), default=0) >= 0:
            return fast
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


# Rates field -> (counter, why it may be missing: the reason reads "no COUNTER in /proc/vmstat (WHY)").
# minflt, swapin and the refaults are derived in vmstat_rates.
RATE_COUNTERS: dict[str, tuple[str, str]] = {
    "pgfault_per_s": ("pgfault", ""),
    "majflt_per_s": ("pgmajfault", ""),
    "pswpin_per_s": ("pswpin", ""),
    "pswpout_per_s": ("pswpout", ""),
    "zswpin_per_s": ("zswpin", "kernel < 5.19 or no zswap"),
    "pgpgin_kib_per_s": ("pgpgin", ""),  # pgpgin is already KiB
    "pgscan_direct_per_s": ("pgscan_direct", ""),
    "allocstall_per_s": ("allocstall", ""),
    "oom_kill": ("oom_kill", "kernel < 4.13"),
    "thp_fault_alloc_per_s": ("thp_fault_alloc", "THP not built in"),
    "thp_fault_fallback_per_s": ("thp_fault_fallback", "THP not built in"),
    "numa_hint_faults_per_s": ("numa_hint_faults", "CONFIG_NUMA_BALANCING off"),
    "compact_stall_per_s": ("compact_stall", "CONFIG_COMPACTION off"),
    "compact_fail_per_s": ("compact_fail", "CONFIG_COMPACTION off"),
    "compact_success_per_s": ("compact_success", "CONFIG_COMPACTION off"),
    "numa_miss_per_s": ("numa_miss", "kernel without CONFIG_NUMA"),
    "numa_foreign_per_s": ("numa_foreign", "kernel without CONFIG_NUMA"),
    "numa_pages_migrated_per_s": ("numa_pages_migrated", "CONFIG_NUMA_BALANCING off"),
}
# The counters ``vmstat_rates`` reads: the only ones the probe sends (of ~190), each with its per-zone
# and split names (``allocstall_normal``, ``workingset_refault_anon``: see ``Source.keep``).
READ = (*dict.fromkeys(counter for counter, _ in RATE_COUNTERS.values()), "workingset_refault")
SOURCE = Source("vmstat", "/proc/vmstat", TWICE, parse_vmstat, keep=READ)


def rate(delta: float | None, interval_s: float) -> float | None:
    """Δ per second, 2 decimals; a counter that went down (reset, wrap) counts as 0, never negative.

    >>> rate(50, 2.0), rate(-3, 2.0), rate(None, 2.0), rate(5, 0.0)
    (25.0, 0.0, None, None)
    """
    if delta is None or interval_s <= 0:
        return None
    return round(max(delta, 0) / interval_s, 2)


def _delta(a: dict[str, int], b: dict[str, int], name: str) -> int | None:
    """Second minus first; an event counter never goes down, so one that does means damaged output
    (or a counter that wrapped): a ``ParseError`` quoting both lines, never a silent 0."""
    x, y = vmstat_counter(a, name), vmstat_counter(b, name)
    if x is None or y is None:
        return None
    if y < x:
        raise ParseError(
            f"/proc/vmstat counter went down between the two samples: '{name} {x}' then '{name} {y}'",
            hint="the probe output is damaged (or the counter wrapped); sample again",
        )
    return y - x


def vmstat_rates(
    a: dict[str, int] | None, b: dict[str, int] | None, interval_s: float, ne: dict[str, str]
) -> dict[str, float | int | None]:
    """Rates fields from two readings; a None value gets its reason in ``ne``.

    Kernel choices: minor faults = Δpgfault - Δpgmajfault (pgfault counts both); a page loaded back
    from zswap is a major fault pswpin does not count, so swap-ins are pswpin + zswpin;
    ``workingset_refault_file`` exists from 5.9, and 3.15-5.8 have one ``workingset_refault`` that only
    counted page-cache (file) pages (anon pages got shadow entries in 5.9): it is the file rate there.

    >>> ne = {}
    >>> r = vmstat_rates({"pgfault": 100, "pgmajfault": 10, "pswpin": 0, "compact_stall": 1},
    ...                  {"pgfault": 300, "pgmajfault": 30, "pswpin": 8, "compact_stall": 5}, 2.0, ne)
    >>> r["minflt_per_s"], r["swapin_per_s"], r["compact_stall_per_s"], ne["oom_kill"]
    (90.0, 4.0, 2.0, 'no oom_kill in /proc/vmstat (kernel < 4.13)')
    """
    a, b = a or {}, b or {}
    d = {key: _delta(a, b, counter) for key, (counter, _) in RATE_COUNTERS.items()}
    out: dict[str, float | int | None] = {key: rate(value, interval_s) for key, value in d.items()}
    oom = d["oom_kill"]
    out["oom_kill"] = None if oom is None else max(oom, 0)
    pgfault, majflt = d["pgfault_per_s"], d["majflt_per_s"]
    out["minflt_per_s"] = rate(None if pgfault is None or majflt is None else pgfault - majflt, interval_s)
    pswpin = d["pswpin_per_s"]
    out["swapin_per_s"] = rate(None if pswpin is None else pswpin + (d["zswpin_per_s"] or 0), interval_s)
    refault_file = _delta(a, b, "workingset_refault_file")
    refault_anon = _delta(a, b, "workingset_refault_anon")
    if refault_file is None and _delta(a, b, "workingset_refault") is not None:
        refault_file = _delta(a, b, "workingset_refault")
        ne["workingset_refault_anon_per_s"] = (
            "kernel < 5.9: only workingset_refault, which counts file pages only (reported as file)"
        )
    out["workingset_refault_file_per_s"] = rate(refault_file, interval_s)
    out["workingset_refault_anon_per_s"] = rate(refault_anon, interval_s)
    why = {
        key: f"no {counter} in /proc/vmstat ({reason})"
        for key, (counter, reason) in RATE_COUNTERS.items()
        if reason
    }
    why["zswpin_per_s"] += ": swap-ins are pswpin only"
    why["workingset_refault_file_per_s"] = "no workingset_refault* in /proc/vmstat (kernel < 3.15)"
    why["workingset_refault_anon_per_s"] = "no workingset_refault_anon in /proc/vmstat (kernel < 5.9)"
    for key, value in out.items():
        if value is None and key not in ne:
            ne[key] = why.get(key, f"counter for {key} missing from /proc/vmstat or unreadable")
    return out
