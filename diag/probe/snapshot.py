"""The probe output as parsed, before any rate is computed: two snapshots, the once-read files, facts,
perf, the reduced per-process rows.

In: built by ``diag.probe.sample.parse_probe`` section by section, each file parsed by the parser its
source declares. Out: ``RawSample``, which ``diag.probe.derive.host_sample`` turns into a ``HostSample``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diag.probe.cost import CpuTicks
from diag.probe.facts import Facts
from diag.probe.measurements import LockedProcess
from diag.probe.memcg import MemCgroup
from diag.probe.perfstat import PerfCounter
from diag.probe.pidstat import ProcDelta


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One reading of the files read twice: source name -> parsed value, or -> why it was unreadable."""

    uptime_s: float
    parsed: dict[str, object]
    missing: dict[str, str]


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """A top process: its deltas, its children's, and what /proc/PID/status, limits and cgroup said."""

    delta: ProcDelta
    children_minflt_delta: int = 0
    children_majflt_delta: int = 0
    rss_kib: int | None = None
    swap_kib: int | None = None
    lck_kib: int | None = None
    pin_kib: int | None = None
    memlock_limit_kib: int | None = None
    cgroup: str | None = None
    memcg: MemCgroup | None = None
    cpu: CpuTicks | None = None  # None: a probe from before CPU time was measured


@dataclass(frozen=True, slots=True)
class RawSample:
    """Everything one probe run printed, parsed; ``derive.host_sample`` makes the values."""

    snaps: tuple[Snapshot, Snapshot]
    once: dict[str, object]  # files read once: source name -> parsed value
    once_missing: dict[str, str]
    facts: Facts
    facts_missing: dict[str, str]
    blockdevs: tuple[str, ...] | None
    perf_state: str  # ok / failed / unused
    perf_reason: str | None
    perf_counts: dict[str, PerfCounter]
    totals: dict[str, int]
    processes: list[ProcInfo] = field(default_factory=list)
    locked: list[LockedProcess] | None = None  # None: not asked for (locked_min_kib 0)

    @property
    def interval_s(self) -> float:
        return round(self.snaps[1].uptime_s - self.snaps[0].uptime_s, 2)
