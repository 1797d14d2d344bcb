"""The deep dive's records: what ``deepdive.sh`` sent back, and the profile of one process made from it.

In: nothing (records only). The parsers of ``diag.probe.perf_report`` fill ``DeepDive`` (capabilities,
and per process a ``ProcessCapture``: perf counters, top symbols, folded call chains, the files behind
the faulting addresses, smaps_rollup, the biggest mappings); the ``profile`` task module turns each
capture into a ``Profile``, which ``HostResult.profiles`` carries to the report and the JSON. Their plain
data (``diag.shared.records.to_data``) is the ``profiles`` key of ``--json``: a field's name is its key.

>>> from diag.shared.records import from_data, to_data
>>> share = SymbolShare(50.1, "/tmp/pftry/t2", "touch_pages")
>>> to_data(share)
{'pct': 50.1, 'dso': '/tmp/pftry/t2', 'symbol': 'touch_pages', 'kernel': False}
>>> from_data(SymbolShare, to_data(share)) == share
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# perf's counters by event name (``page-faults``, ``major-faults``, ``exceptions:page_fault_user``)
Counters = Mapping[str, int | None]


@dataclass(frozen=True, slots=True)
class SymbolShare:
    """A function's share of an event's samples (``perf report --sort dso,sym``)."""

    pct: float
    dso: str
    symbol: str
    kernel: bool = False


@dataclass(frozen=True, slots=True)
class ChainShare:
    """A folded call chain (outermost caller first) and its share of an event's samples."""

    pct: float
    chain: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TargetShare:
    """What the faulting addresses belong to (a file, ``//anon``, ``[heap]``...) and its share."""

    pct: float
    target: str


@dataclass(frozen=True, slots=True)
class MappingRss:
    """One of the process's biggest mappings by resident size."""

    rss_kib: int
    perms: str
    path: str


@dataclass(frozen=True, slots=True)
class BpfCounts:
    """The bpftrace one-liner's page faults per comm and its latency histogram's lines."""

    faults_by_comm: Mapping[str, int] = field(default_factory=dict)
    latency_us: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProcessCapture:
    """What the host sent back about one process (``== pid N`` and the sections naming it)."""

    pid: int
    gone: bool = False
    comm: str | None = None
    exe: str | None = None
    stat: Counters | None = None
    symbols: Mapping[str, tuple[SymbolShare, ...]] = field(default_factory=dict)
    chains: Mapping[str, tuple[ChainShare, ...]] = field(default_factory=dict)
    daddr: Mapping[str, tuple[TargetShare, ...]] = field(default_factory=dict)
    rollup: Mapping[str, int] = field(default_factory=dict)
    status: Mapping[str, int] = field(default_factory=dict)
    maps: tuple[MappingRss, ...] = ()
    stat_error: str | None = None
    record_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeepDive:
    """The whole output of ``deepdive.sh``: the host's capabilities (``perf`` -> its path, or None when
    missing; ``uid``, ``paranoid``...), the pids a ``match`` found, each process, and bpftrace's counts."""

    caps: Mapping[str, str | None] = field(default_factory=dict)
    matched: tuple[int, ...] | None = None
    processes: Mapping[int, ProcessCapture] = field(default_factory=dict)
    bpftrace: BpfCounts | None = None


@dataclass(frozen=True, slots=True)
class PerfAccess:
    """Whether perf gave counters for the process; if not, why, and the command to run by hand."""

    usable: bool
    reason: str | None = None
    command: str = ""


@dataclass(frozen=True, slots=True)
class FaultCounts:
    """perf stat's counts over the interval (None: not counted, not supported)."""

    page_faults: int | None = None
    minor_faults: int | None = None
    major_faults: int | None = None
    page_fault_user: int | None = None  # the exceptions:page_fault_user tracepoint


@dataclass(frozen=True, slots=True)
class ProcessMemory:
    """What memory the process holds (smaps_rollup, else /proc/PID/status), in KiB."""

    rss_kib: int | None = None
    anon_kib: int | None = None
    file_kib: int | None = None
    shmem_kib: int | None = None
    thp_kib: int | None = None
    swap_kib: int | None = None
    lck_kib: int | None = None
    pin_kib: int | None = None


@dataclass(frozen=True, slots=True)
class Hotspot:
    """The function most of the faults come from, for which event, and the file they read (majors)."""

    pct: float
    dso: str
    symbol: str
    kernel: bool = False
    event: str = "page-faults"
    file: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """One process's deep dive (an element of ``--json``'s ``profiles``).

    ``verdict`` and the perf-counted ``minflt_per_s`` / ``majflt_per_s`` are None until the profile is
    classified (``diag.playbook.modules.profile.classify``), and the rates stay None when perf was not
    usable.
    """

    pid: int
    comm: str | None = None
    exe: str | None = None
    interval_s: float = 0.0
    perf: PerfAccess = PerfAccess(usable=False)
    counts: FaultCounts = FaultCounts()
    symbols: Mapping[str, tuple[SymbolShare, ...]] = field(default_factory=dict)
    chains: Mapping[str, tuple[ChainShare, ...]] = field(default_factory=dict)
    targets: Mapping[str, tuple[TargetShare, ...]] = field(default_factory=dict)
    memory: ProcessMemory = ProcessMemory()
    mappings: tuple[MappingRss, ...] = ()
    headlines: tuple[str, ...] = ()
    bpftrace: BpfCounts | None = None
    not_evaluable: Mapping[str, str] = field(default_factory=dict)
    hotspot: Hotspot | None = None
    minflt_per_s: float | None = None
    majflt_per_s: float | None = None
    verdict: str | None = None
