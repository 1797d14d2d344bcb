"""The typed records of one host's sample: the single source of every measurement's name.

In: built by ``diag.probe.derive`` from a parsed probe output. Out: ``HostSample`` and the records in
it. ``diag.shared.records.to_data`` turns them into the dict ``register:`` stores (the Jinja view) and the
JSON; ``from_data`` rebuilds them from a saved run. Field names are the keys documented in the README
("What `sample` registers"); a field with a default is one a saved run from an older pfdiag may lack.
Records of one source live in that source's module (``Memory`` in meminfo, ``Psi`` in pressure, ...).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from diag.probe.buddyinfo import Buddyinfo
from diag.probe.cost import FaultCost, HostCost
from diag.probe.facts import Facts
from diag.probe.memcg import MemCgroup
from diag.probe.memcgstat import WorkloadFaults
from diag.probe.meminfo import Memory
from diag.probe.numa import Numa
from diag.probe.pressure import Psi
from diag.probe.swaps import SwapDevice
from diag.probe.workload import Workload
from diag.shared.records import from_data, shared, to_data

_R = TypeVar("_R")


_ZERO = 0.0


def _shared_zeros(record: _R) -> _R:
    """``record`` with each of its fields that is a zero float (a rate, PSI average or share a quiet host
    has many of) the one ``0.0`` object: a brief holds 24 bytes less for each (``HostSample.brief``).

    >>> _shared_zeros(Rates(majflt_per_s=float("0"))).majflt_per_s is _ZERO
    True
    """
    zeros = {
        f.name: _ZERO
        for f in dataclasses.fields(record)  # type: ignore[arg-type]
        if type(value := getattr(record, f.name)) is float and value == 0.0 and value is not _ZERO
        and math.copysign(1.0, value) > 0
    }  # fmt: skip
    return dataclasses.replace(record, **zeros) if zeros else record  # type: ignore[type-var]


def brief_facts(facts: Facts) -> Facts:
    """What the fleet's tables show of a host's facts (its kernel), one record per kernel in a fleet.

    >>> brief_facts(Facts(kernel="6.1.0", cpus=8)) is brief_facts(Facts(kernel="6.1.0", cpus=4))
    True
    """
    return shared(Facts(kernel=facts.kernel), (Facts, facts.kernel))


@dataclass(frozen=True, slots=True)
class Rates:
    """Host-wide per-second rates over the measured interval (``oom_kill`` is a count)."""

    pgfault_per_s: float | None = None
    minflt_per_s: float | None = None
    majflt_per_s: float | None = None
    pswpin_per_s: float | None = None
    pswpout_per_s: float | None = None
    zswpin_per_s: float | None = None
    swapin_per_s: float | None = None  # pswpin + zswpin: every page brought back from swap
    workingset_refault_file_per_s: float | None = None
    workingset_refault_anon_per_s: float | None = None
    pgpgin_kib_per_s: float | None = None
    disk_read_kib_per_s: float | None = None
    swap_disk_read_kib_per_s: float | None = None
    pgscan_direct_per_s: float | None = None
    allocstall_per_s: float | None = None
    oom_kill: int | None = None
    thp_fault_alloc_per_s: float | None = None
    thp_fault_fallback_per_s: float | None = None
    numa_hint_faults_per_s: float | None = None
    compact_stall_per_s: float | None = None
    compact_fail_per_s: float | None = None
    compact_success_per_s: float | None = None
    numa_miss_per_s: float | None = None
    numa_foreign_per_s: float | None = None
    numa_pages_migrated_per_s: float | None = None


class OwnPlusChildren:
    """``total_*`` = own faults + those of the children it reaped, per second: the one definition of a
    process's total for the records that carry both parts (a verdict's culprit, a watched process), as
    ``Process.total_*`` holds it for the probe's rows."""

    __slots__ = ()
    minflt_per_s: float
    majflt_per_s: float
    children_minflt_per_s: float
    children_majflt_per_s: float

    @property
    def total_minflt_per_s(self) -> float:
        return self.minflt_per_s + self.children_minflt_per_s

    @property
    def total_majflt_per_s(self) -> float:
        return self.majflt_per_s + self.children_majflt_per_s


@dataclass(frozen=True, slots=True)
class Process:
    """One of the top faulting processes: own faults, faults of the children it reaped, and its memory.

    ``total_*`` = own + children: what ranking, per-process thresholds and culprits use, so a parent
    whose short-lived workers fault is named although no worker lives across both samples.
    """

    pid: int
    comm: str
    starttime: int = 0
    state: str = ""
    minflt_per_s: float | None = None
    majflt_per_s: float | None = None
    minflt_delta: int = 0
    majflt_delta: int = 0
    new: bool = False  # born during the interval: deltas are its whole counters
    rss_kib: int | None = None
    swap_kib: int | None = None
    lck_kib: int | None = None
    memlock_limit_kib: int | None = None
    cgroup: str | None = None
    memcg: MemCgroup | None = None
    pin_kib: int | None = None
    children_minflt_per_s: float | None = None
    children_majflt_per_s: float | None = None
    children_minflt_delta: int = 0
    children_majflt_delta: int = 0
    total_minflt_per_s: float | None = None
    total_majflt_per_s: float | None = None
    cost: FaultCost | None = None  # what those faults cost in time (diag/probe/cost.py)
    workload: Workload | None = None  # the unit, pod or container its memory cgroup runs (probe/workload.py)


@dataclass(frozen=True, slots=True)
class ProcessTotals:
    """All readable processes: how many, how many faulted, and the faults attributed to processes."""

    seen: int = 0
    faulting: int | None = None
    readable: int | None = None
    hidden: int | None = None
    attributed_minflt_per_s: float | None = None
    attributed_majflt_per_s: float | None = None
    attributed_pct: float | None = None  # the listed processes' faults (own + children), % of the host's


@dataclass(frozen=True, slots=True)
class Perf:
    """``perf stat -a`` software counters over the interval, when perf was usable."""

    usable: bool = False
    reason: str | None = None
    page_faults: int | None = None
    page_faults_per_s: float | None = None
    minor_faults: int | None = None
    minor_faults_per_s: float | None = None
    major_faults: int | None = None
    major_faults_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class LockedProcess:
    """A process holding locked (VmLck) or pinned (VmPin) memory of at least ``locked_min_kib``."""

    pid: int
    comm: str
    lck_kib: int | None = None
    pin_kib: int | None = None
    memlock_limit_kib: int | None = None


@dataclass(frozen=True, slots=True)
class HostSample:
    """Everything one ``sample`` measured on a host; ``view()`` is what ``register:`` stores."""

    interval_s: float
    rates: Rates = field(default_factory=Rates)
    psi: Psi = field(default_factory=Psi)
    memory: Memory = field(default_factory=Memory)
    swaps: tuple[SwapDevice, ...] = ()
    processes: tuple[Process, ...] = ()
    process_totals: ProcessTotals = field(default_factory=ProcessTotals)
    facts: Facts = field(default_factory=Facts)
    perf: Perf = field(default_factory=Perf)
    buddyinfo: Buddyinfo | None = None
    numa: Numa = field(default_factory=Numa)
    locked_processes: tuple[LockedProcess, ...] = ()
    cost: HostCost | None = None  # what the host's faults cost in time (diag/probe/cost.py)
    # per memory cgroup (unit, pod container): its faults over the interval, busiest first (memcgstat.py)
    workloads: tuple[WorkloadFaults, ...] = ()
    not_evaluable: Mapping[str, str] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """The plain-data form: the Jinja view of ``register:`` and the JSON ``sample``."""
        data: dict[str, Any] = to_data(self)
        return data

    def brief(self, culprit_pids: Collection[int]) -> HostSample:
        """What the fleet's tables read of a finished host: its rates, PSI, memory, facts and what was
        not evaluable, the processes its verdict named and the named workloads that faulted. The rest
        (every top process, swaps, perf, NUMA, ...) is read back from ``hosts.jsonl`` when a report
        shows it, so the controller does not hold it for every host done."""
        return HostSample(
            interval_s=self.interval_s,
            rates=_shared_zeros(self.rates),
            psi=_shared_zeros(self.psi),
            memory=_shared_zeros(self.memory),
            processes=tuple(p for p in self.processes if p.pid in culprit_pids),
            facts=brief_facts(self.facts),
            workloads=tuple(w for w in self.workloads if w.shown),
            # the same few reasons on every host of a kind: one mapping each
            not_evaluable=shared(self.not_evaluable, (dict, tuple(self.not_evaluable.items()))),
        )

    def as_vars(self) -> dict[str, Any]:
        """``view()``, under the name the probe API has always used."""
        return self.view()

    @classmethod
    def from_view(cls, data: Mapping[str, Any]) -> HostSample:
        """Rebuild from ``view()`` output (a saved run; older runs lack the newer keys)."""
        return from_data(cls, {"interval_s": 0.0, **data})
