"""The deep dive's records: what ``deepdive.sh`` sent back, and the profile of one process made from it.

In: the parsers of ``diag.probe.perf_report`` fill ``DeepDive`` (capabilities, and per process a
``ProcessCapture``: perf counters, top symbols, folded call chains, the files behind the faulting
addresses, smaps_rollup, the biggest mappings). Out: ``build_profile`` derives each process's
``Profile`` from it (the headline naming the hot function, the hotspot, the memory it holds, why perf
could not count), which the ``profile`` task module classifies and ``HostResult.profiles`` carries to
the report and the JSON. The profiles' plain data (``diag.shared.records.to_data``) is the ``profiles``
key of ``--json``: a field's name is its key.

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

TOP_SYMBOLS = 5  # symbols, chains and targets kept per event
GONE = "the process is gone"
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


def by_hand(pid: int, interval_s: float) -> str:
    return (
        f"sudo perf record -e page-faults -e major-faults -g -p {pid} -- sleep {interval_s:g}"
        " && sudo perf report --stdio --no-children --sort dso,sym"
    )


def _perf_reason(caps: Mapping[str, str | None], proc: ProcessCapture) -> str | None:
    """Why perf gave nothing for this process, or None when it worked."""
    if caps.get("perf") is None:
        return "perf is not installed (not found in PATH)"
    if proc.stat and any(v is not None for v in proc.stat.values()):
        return None
    text = proc.stat_error or proc.record_error or ""
    # perf's message starts "Error:" on a line of its own; the next line says what
    lines = [line.strip() for line in text.splitlines() if line.strip() and line.strip() != "Error:"]
    error = lines[0] if lines else "perf printed no counters"
    paranoid = caps.get("paranoid")
    if caps.get("uid") != "0" and paranoid not in (None, "-1", "0"):
        error += f" (kernel.perf_event_paranoid={paranoid}, not root: only the login user's own processes)"
    return error


def _caller(chains: tuple[ChainShare, ...], symbol: str) -> str | None:
    for chain in chains:
        frames = [f for f in chain.chain if f]
        if frames and frames[-1] == symbol and len(frames) >= 2:
            return str(frames[-2])
    return None


def _files(proc: ProcessCapture, event: str) -> list[str]:
    """The files behind the event's faulting addresses (``//anon`` and its kin are not files)."""
    targets = (t.target for t in proc.daddr.get(event, ()))
    return [t for t in targets if t.startswith("/") and not t.startswith("//")]


def headline(proc: ProcessCapture, event: str) -> str | None:
    """ "62 % of minor faults in `fill_buffer` (/usr/bin/app) ← `main`", from perf's top symbol."""
    symbols = proc.symbols.get(event) or ()
    if not symbols:
        return None
    top = symbols[0]
    stat = proc.stat or {}
    majors, faults = stat.get("major-faults") or 0, stat.get("page-faults") or 0
    what = (
        "major faults"
        if event == "major-faults"
        else ("minor faults" if majors * 100 <= faults else "page faults")
    )
    text = f"{top.pct:.0f} % of {what} in `{top.symbol}` ({top.dso})"
    caller = _caller(proc.chains.get(event) or (), top.symbol)
    if caller:
        text += f" ← `{caller}`"
    files = _files(proc, event)
    if event == "major-faults" and files:
        text += f", on {files[0]}"
    return text


def _memory(proc: ProcessCapture) -> ProcessMemory:
    rollup, status = proc.rollup, proc.status
    return ProcessMemory(
        rss_kib=rollup.get("Rss", status.get("VmRSS")),
        anon_kib=rollup.get("Anonymous", status.get("RssAnon")),
        file_kib=rollup.get("Pss_File", status.get("RssFile")),
        shmem_kib=rollup.get("Pss_Shmem", status.get("RssShmem")),
        thp_kib=rollup.get("AnonHugePages"),
        swap_kib=rollup.get("Swap", status.get("VmSwap")),
        lck_kib=status.get("VmLck"),
        pin_kib=status.get("VmPin"),
    )


def _hotspot(proc: ProcessCapture) -> Hotspot | None:
    """perf's top symbol, for major faults when perf sampled any, else for all page faults."""
    majors = (proc.stat or {}).get("major-faults") or 0
    event = "major-faults" if majors and proc.symbols.get("major-faults") else "page-faults"
    top = (proc.symbols.get(event) or (None,))[0]
    if top is None:
        return None
    files = _files(proc, event)
    return Hotspot(top.pct, top.dso, top.symbol, top.kernel, event, files[0] if files else None)


def build_profile(data: DeepDive, pid: int, interval_s: float) -> Profile:
    """One process's deep-dive record, not yet classified (``classify``)."""
    caps = data.caps
    proc = data.processes.get(pid) or ProcessCapture(pid, gone=True)
    reason = GONE if proc.gone else _perf_reason(caps, proc)
    stat = proc.stat or {}
    not_evaluable: dict[str, str] = {}
    if reason:
        not_evaluable["perf"] = reason
    if caps.get("bpftrace") is None:
        not_evaluable["bpftrace"] = "bpftrace is not installed"
    if caps.get("tracefs") is None:
        not_evaluable["tracepoint"] = "tracefs (exceptions:page_fault_user) is not available"
    return Profile(
        pid=pid,
        comm=proc.comm,
        exe=proc.exe or None,
        interval_s=interval_s,
        perf=PerfAccess(usable=reason is None, reason=reason, command=by_hand(pid, interval_s)),
        counts=FaultCounts(
            page_faults=stat.get("page-faults"),
            minor_faults=stat.get("minor-faults"),
            major_faults=stat.get("major-faults"),
            page_fault_user=stat.get("exceptions:page_fault_user"),
        ),
        symbols={k: v[:TOP_SYMBOLS] for k, v in proc.symbols.items()},
        chains={k: v[:TOP_SYMBOLS] for k, v in proc.chains.items()},
        targets={k: v[:TOP_SYMBOLS] for k, v in proc.daddr.items()},
        memory=_memory(proc),
        mappings=proc.maps,
        headlines=tuple(h for h in (headline(proc, e) for e in ("page-faults", "major-faults")) if h),
        bpftrace=data.bpftrace,
        not_evaluable=not_evaluable,
        hotspot=_hotspot(proc),
    )
