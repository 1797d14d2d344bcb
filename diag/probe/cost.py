"""The cost model: what the faults of a process, or of a host, cost in time over the interval.

In: fault rates (a process's own + the children it reaped, or the host's), the process's CPU time over
the interval (``/proc/PID/stat`` utime/stime + cutime/cstime, in clock ticks) and the host's PSI memory
stall. Out: ``FaultCost`` (per process) and ``HostCost`` (per host): the estimate with its evidence.

Why: a count is not a problem. Starting one python3 makes ~9,400 minor faults (``perf stat -e
minor-faults python3 -c pass``), so any process start inside the interval crosses the guide's 1,000
minor/s; a storm that costs a CPU makes 100,000+/s. The guide prices the faults: a minor fault costs
1-10 us of CPU (the kernel allocates, zeroes and maps a page), a major fault 1-10 ms of waiting (I/O).
So an estimate is the rate times those costs, shown as a low-high range; and where the host measures
time, the measurement bounds it: minor faults run in the kernel, charged to the faulting task's
system time, so they cannot have cost more than that (plus one clock tick, stime's resolution).

Verdicts use ``minor_ms_per_s``: the LEAST the minors can have cost (1 us each) that the measured
system time allows. Measured here (2 cores, kernel 6.x, see the README "What counts as a problem"): the
minor storm faults at ~2.7 us each of system time, so the low end is the realistic one for cheap
first-touch faults. Majors keep the guide's count line (10/s per process is already 10-100 ms/s of
stall); their cost is stated, not re-thresholded. Everything is in milliseconds per second of the
interval: 10 ms/s is 1 % of one CPU (minors) or of one task's time (major stall).
"""

from __future__ import annotations

from dataclasses import dataclass

# The guide's per-fault costs, in ms: (low, high).
MINOR_FAULT_MS = (0.001, 0.01)
MAJOR_FAULT_MS = (1.0, 10.0)


@dataclass(frozen=True, slots=True)
class CpuTicks:
    """CPU time of a process over the interval, in clock ticks: its own and its reaped children's."""

    user: int
    system: int
    children_user: int = 0
    children_system: int = 0


@dataclass(frozen=True, slots=True)
class FaultCost:
    """What one process's faults (own + reaped children) cost in the interval, in ms per second.

    ``minor_ms_per_s`` is what verdicts compare: the low estimate, bounded by the measured system time.
    ``sys_ms_per_s`` / ``user_ms_per_s`` are None when the probe did not measure them (a run recorded
    before pfdiag measured CPU time); ``basis`` says in words what the estimate rests on.
    """

    minor_ms_per_s: float = 0.0
    minor_ms_per_s_low: float = 0.0
    minor_ms_per_s_high: float = 0.0
    major_stall_ms_per_s_low: float = 0.0
    major_stall_ms_per_s_high: float = 0.0
    sys_ms_per_s: float | None = None
    user_ms_per_s: float | None = None
    children_sys_ms_per_s: float | None = None
    basis: str = ""


@dataclass(frozen=True, slots=True)
class HostCost:
    """What the host's faults cost in the interval: the estimate from its rates, and measured stall (PSI)."""

    minor_ms_per_s_low: float | None = None
    minor_ms_per_s_high: float | None = None
    major_stall_ms_per_s_low: float | None = None
    major_stall_ms_per_s_high: float | None = None
    psi_memory_some_ms_per_s: float | None = None  # measured: time some task waited on memory
    psi_memory_full_ms_per_s: float | None = None
    basis: str = ""


def _ms(value: float) -> float:
    return round(value, 3)


def _range(rate: float, per_fault_ms: tuple[float, float]) -> tuple[float, float]:
    return _ms(rate * per_fault_ms[0]), _ms(rate * per_fault_ms[1])


def _priced(rate: float, kind: str, span: tuple[float, float], of: str = "") -> str:
    """'20 minor/s x 1-10 us = 0.02-0.2 ms/s': the evidence of an estimate, in words."""
    each = "1-10 us" if kind == "minor" else "1-10 ms"
    return f"{rate:,.0f} {kind}/s x {each} = {span[0]:,.4g}-{span[1]:,.4g} ms/s{of}"


def ticks_ms_per_s(ticks: int, clk_tck: int, interval_s: float) -> float | None:
    """Clock ticks over the interval as ms of CPU per second.

    >>> ticks_ms_per_s(93, 100, 1.0), ticks_ms_per_s(1, 100, 5.0), ticks_ms_per_s(3, 100, 0.0)
    (930.0, 2.0, None)
    """
    if interval_s <= 0 or clk_tck <= 0:
        return None
    return _ms(ticks * 1000.0 / clk_tck / interval_s)


def process_cost(
    total_minflt_per_s: float | None,
    total_majflt_per_s: float | None,
    cpu: CpuTicks | None,
    clk_tck: int | None,
    interval_s: float,
) -> FaultCost:
    """The cost of one process's faults; the measured system time bounds what its minors can have cost.

    The minor storm of tests/workloads (measured here: 338,704 minor/s, 93 of 100 ticks in stime over
    1 s): 339-3,387 ms/s at the guide's costs, at most 940 ms/s measured (93 ticks + 1), so the least it
    costs is 338.7 ms/s, a third of a CPU:

    >>> c = process_cost(338704.0, 0.0, CpuTicks(6, 93), 100, 1.0)
    >>> c.minor_ms_per_s, c.minor_ms_per_s_low, c.minor_ms_per_s_high, c.sys_ms_per_s
    (338.704, 338.704, 940.0, 930.0)

    A shell that reaped a python3 start (9,400 faults) in a 5 s interval: 1,880 minor/s, over the
    guide's 1,000/s, but 1.9-18.8 ms/s (0.2-1.9 % of one CPU), and 5 ticks of the children's system time
    (10 ms/s) bound the high end:

    >>> c = process_cost(1880.0, 0.0, CpuTicks(0, 0, 7, 5), 100, 5.0)
    >>> c.minor_ms_per_s, c.minor_ms_per_s_high, c.children_sys_ms_per_s
    (1.88, 12.0, 10.0)

    Without CPU time (a run recorded before pfdiag measured it) the estimate rests on the rates alone;
    majors are priced as time a task waits, not CPU:

    >>> c = process_cost(20.0, 12.0, None, None, 5.0)
    >>> c.major_stall_ms_per_s_low, c.major_stall_ms_per_s_high, c.sys_ms_per_s
    (12.0, 120.0, None)
    >>> c.basis
    '20 minor/s x 1-10 us = 0.02-0.2 ms/s; 12 major/s x 1-10 ms = 12-120 ms/s of stall; CPU time not measured'
    """
    minor = max(total_minflt_per_s or 0.0, 0.0)
    major = max(total_majflt_per_s or 0.0, 0.0)
    low, high = _range(minor, MINOR_FAULT_MS)
    stall_low, stall_high = _range(major, MAJOR_FAULT_MS)
    parts = [_priced(minor, "minor", (low, high))]
    if major:
        parts.append(_priced(major, "major", (stall_low, stall_high), " of stall"))
    sys_ms = user_ms = children_sys = None
    if cpu is not None and clk_tck:
        sys_ms = ticks_ms_per_s(cpu.system + cpu.children_system, clk_tck, interval_s)
        user_ms = ticks_ms_per_s(cpu.user + cpu.children_user, clk_tck, interval_s)
        children_sys = ticks_ms_per_s(cpu.children_system, clk_tck, interval_s)
        # stime is counted in whole ticks: allow one more than was seen
        bound = ticks_ms_per_s(cpu.system + cpu.children_system + 1, clk_tck, interval_s)
        if bound is not None:
            low, high = min(low, bound), min(high, bound)
            parts.append(f"system CPU {sys_ms:,.4g} ms/s measured (faults cost at most {bound:,.4g} ms/s)")
    else:
        parts.append("CPU time not measured")
    return FaultCost(
        minor_ms_per_s=low,
        minor_ms_per_s_low=low,
        minor_ms_per_s_high=high,
        major_stall_ms_per_s_low=stall_low,
        major_stall_ms_per_s_high=stall_high,
        sys_ms_per_s=sys_ms,
        user_ms_per_s=user_ms,
        children_sys_ms_per_s=children_sys,
        basis="; ".join(parts),
    )


def host_cost(
    minflt_per_s: float | None,
    majflt_per_s: float | None,
    psi_memory_some_pct: float | None,
    psi_memory_full_pct: float | None,
) -> HostCost:
    """The host's faults priced at the guide's costs, beside the stall PSI measured.

    >>> h = host_cost(250000.0, 40.0, 1.5, None)
    >>> h.minor_ms_per_s_low, h.minor_ms_per_s_high, h.major_stall_ms_per_s_high, h.psi_memory_some_ms_per_s
    (250.0, 2500.0, 400.0, 15.0)
    >>> host_cost(None, None, None, None).basis
    'fault counters not read; PSI memory not measured'
    """
    parts = []
    minor_range: tuple[float | None, float | None] = (None, None)
    major_range: tuple[float | None, float | None] = (None, None)
    if minflt_per_s is not None and majflt_per_s is not None:
        minor_low, minor_high = _range(max(minflt_per_s, 0.0), MINOR_FAULT_MS)
        major_low, major_high = _range(max(majflt_per_s, 0.0), MAJOR_FAULT_MS)
        minor_range, major_range = (minor_low, minor_high), (major_low, major_high)
        parts.append(_priced(minflt_per_s, "minor", (minor_low, minor_high), " of CPU"))
        parts.append(_priced(majflt_per_s, "major", (major_low, major_high), " of stall"))
    else:
        parts.append("fault counters not read")

    def stall(pct: float | None) -> float | None:
        return None if pct is None else _ms(pct * 10.0)

    some, full = stall(psi_memory_some_pct), stall(psi_memory_full_pct)
    parts.append("PSI memory not measured" if some is None else f"PSI memory some {some:,.4g} ms/s measured")
    return HostCost(
        minor_range[0], minor_range[1], major_range[0], major_range[1], some, full, "; ".join(parts)
    )
