"""Read one probe output into a ``Sample`` and turn it into per-second rates.

In: the stdout of ``probe_command()`` (see probe.sh for the sections). Out: ``Sample``, whose
``as_vars()`` is the dict ``register:`` stores (shape in docs/design.md). The clock is Δ of the
first field of /proc/uptime; every counter is rated over that measured interval.

>>> sample = parse_probe(EXAMPLE)
>>> v = sample.as_vars()
>>> v["interval_s"], v["rates"]["minflt_per_s"], v["rates"]["majflt_per_s"], v["psi"]["memory_some_pct"]
(2.0, 450.0, 25.0, 1.5)
>>> v["processes"][0]["comm"], v["processes"][0]["majflt_per_s"], v["not_evaluable"]["psi_io"]
('pf (x) y', 20.0, '/proc/pressure/io: No such file or directory')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diag.errors import ParseError
from diag.probe.diskstats import DiskStat, parse_diskstats
from diag.probe.facts import blockdevs_of, parse_facts_lines
from diag.probe.memcg import MemCgroup, parse_memcg
from diag.probe.meminfo import parse_meminfo
from diag.probe.pidstat import (
    ProcDelta,
    parse_cgroup_path,
    parse_memlock_limit_kib,
    parse_proc_row,
    parse_status_kib,
)
from diag.probe.pressure import Pressure, parse_pressure
from diag.probe.sections import Section, split_sections
from diag.probe.swaps import SwapDevice, parse_swaps
from diag.probe.vmstat import parse_vmstat

EXAMPLE = """\
@@pfdiag probe 1 interval=2 top=20
@@pfdiag facts
hostname=vm
clk_tck=100
blockdevs= vda
@@pfdiag snap 0 100.00
@@pfdiag file /proc/vmstat
pgfault 1000
pgmajfault 10
@@pfdiag file /proc/meminfo
MemTotal:       1000 kB
@@pfdiag file /proc/pressure/memory
some avg10=1.00 avg60=0.50 avg300=0.10 total=1000
@@pfdiag unreadable /proc/pressure/io No such file or directory
@@pfdiag perf unused not installed
@@pfdiag snap 1 102.00
@@pfdiag file /proc/vmstat
pgfault 1950
pgmajfault 60
@@pfdiag file /proc/meminfo
MemTotal:       1000 kB
@@pfdiag file /proc/pressure/memory
some avg10=1.20 avg60=0.50 avg300=0.10 total=31000
@@pfdiag unreadable /proc/pressure/io No such file or directory
@@pfdiag procs
totals seen=70 readable=70 hidden=0 vanished=0 faulting=1 born=0 exited=0 unmatched=0 minflt=800 majflt=40
proc 4242 5000 R 1 800 40 0 pf (x) y
@@pfdiag end
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One reading of the system files (sample 0 before the sleep, sample 1 after)."""

    uptime_s: float
    vmstat: dict[str, int]
    meminfo: dict[str, int]
    diskstats: dict[str, DiskStat]
    psi: dict[str, dict[str, Pressure]]  # "memory"/"io" -> {"some"/"full": Pressure}
    psi_missing: dict[str, str]  # "memory"/"io" -> why it could not be read


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """A top process: its deltas and what /proc/PID/status, limits and cgroup said."""

    delta: ProcDelta
    rss_kib: int | None = None
    swap_kib: int | None = None
    lck_kib: int | None = None
    memlock_limit_kib: int | None = None
    cgroup: str | None = None
    memcg: MemCgroup | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """Everything one probe run measured; ``as_vars()`` derives the rates."""

    snaps: tuple[Snapshot, Snapshot]
    facts: dict[str, object]
    facts_missing: dict[str, str]
    blockdevs: tuple[str, ...] | None
    perf_state: str  # ok / failed / unused
    perf_reason: str | None
    perf_counts: dict[str, int]
    swaps: list[SwapDevice]
    totals: dict[str, int]
    processes: list[ProcInfo] = field(default_factory=list)

    @property
    def interval_s(self) -> float:
        return round(self.snaps[1].uptime_s - self.snaps[0].uptime_s, 2)

    def as_vars(self) -> dict[str, object]:
        """The ``register:`` dict of docs/design.md."""
        from diag.probe.rates import sample_vars  # rates imports this module's records

        return sample_vars(self)


def _snapshot(uptime: float, body: list[Section]) -> Snapshot:
    vm: dict[str, int] = {}
    mi: dict[str, int] = {}
    disks: dict[str, DiskStat] = {}
    psi: dict[str, dict[str, Pressure]] = {}
    missing: dict[str, str] = {}
    for s in body:
        path = s.args.split(" ", 1)[0]
        name = path.rsplit("/", 1)[-1]
        if s.kind == "unreadable":
            missing[name] = f"{path}: {s.args.partition(' ')[2] or 'unreadable'}"
        elif path == "/proc/vmstat":
            vm = parse_vmstat(s.lines)
        elif path == "/proc/meminfo":
            mi = parse_meminfo(s.lines)
        elif path == "/proc/diskstats":
            disks = parse_diskstats(s.lines)
        elif path.startswith("/proc/pressure/"):
            psi[name] = parse_pressure(s.lines, path)
    return Snapshot(uptime, vm, mi, disks, psi, missing)


def _details(info: ProcInfo, s: Section) -> ProcInfo:
    status = parse_status_kib(s.lines)
    limit = next((parse_memlock_limit_kib(x) for x in s.lines if x.startswith("Max locked memory")), None)
    cgroup = next((parse_cgroup_path(x[len("cgroup ") :]) for x in s.lines if x.startswith("cgroup ")), None)
    memcg = next((parse_memcg(x) for x in s.lines if x.startswith("memcg ")), None)
    if memcg is not None:
        cgroup = memcg.path  # on hybrid hosts the v2 line says "/" while the memory controller is v1
    return ProcInfo(
        info.delta, status.get("VmRSS"), status.get("VmSwap"), status.get("VmLck"), limit, cgroup, memcg
    )


def _totals(line: str) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in (item.split("=", 1) for item in line.split()[1:])}
    except ValueError:
        raise ParseError(f"expected 'totals key=N ...': {line!r}", where="probe procs") from None


def parse_probe(text: str) -> Sample:
    """Parse a complete probe output; ParseError (quoting the line) when it is cut or malformed."""
    sections = split_sections(text)
    if not sections or sections[0].kind != "probe":
        raise ParseError("not pfdiag probe output (no '@@pfdiag probe' header)", where="probe output line 1")
    for s in sections:
        if s.kind == "watchdog":
            raise ParseError(
                f"the probe's watchdog stopped it: {s.args}", where=f"probe output line {s.lineno}"
            )
    if sections[-1].kind != "end":
        last = (sections[-1].lines or (f"@@pfdiag {sections[-1].kind} {sections[-1].args}",))[-1]
        raise ParseError(f"probe output is cut short after: {last!r}", where="probe output")
    facts_lines: tuple[str, ...] = ()
    snaps: list[Snapshot] = []
    pending: list[Section] = []
    uptime = -1.0
    perf_state, perf_counts = "unused", {}
    perf_reason: str | None = "not run"
    swaps: list[SwapDevice] = []
    totals: dict[str, int] = {}
    procs: dict[int, ProcInfo] = {}
    for s in sections[1:]:
        if s.kind in ("file", "unreadable") and uptime >= 0 and s.args.split(" ")[0] == "/proc/swaps":
            swaps = parse_swaps(s.lines)
        elif s.kind in ("file", "unreadable") and uptime >= 0:
            pending.append(s)
        elif s.kind in ("snap", "procs", "end") and uptime >= 0:
            snaps.append(_snapshot(uptime, pending))
            uptime, pending = -1.0, []
        if s.kind == "facts":
            facts_lines = s.lines
        elif s.kind == "snap":
            try:
                uptime = float(s.args.split()[1])
            except (IndexError, ValueError):
                raise ParseError(
                    f"bad snapshot marker: '@@pfdiag snap {s.args}'", where=f"line {s.lineno}"
                ) from None
        elif s.kind == "perf":
            perf_state, _, reason = s.args.partition(" ")
            perf_reason = reason or None
            perf_counts = _perf_counts(s.lines)
        elif s.kind == "procs":
            for line in s.lines:
                if line.startswith("totals "):
                    totals = _totals(line)
                elif line:
                    row = parse_proc_row(line)
                    procs[row.pid] = ProcInfo(row)
        elif s.kind == "pid":
            pid = int(s.args.split()[0])
            if pid in procs:
                procs[pid] = _details(procs[pid], s)
    if len(snaps) != 2:
        raise ParseError(f"expected 2 snapshots, found {len(snaps)}", where="probe output")
    facts, missing = parse_facts_lines(facts_lines)
    return Sample(
        (snaps[0], snaps[1]), facts, missing, blockdevs_of(facts_lines), perf_state, perf_reason,
        perf_counts, swaps, totals, list(procs.values()),
    )  # fmt: skip


def _perf_counts(lines: tuple[str, ...]) -> dict[str, int]:
    """``perf stat -x,`` rows: ``count,unit,event,...``; ``<not counted>`` rows are left out.

    >>> _perf_counts(("86788,,page-faults,404242819,100.00,,", "<not supported>,,major-faults,0,0,,"))
    {'page-faults': 86788}
    """
    counts: dict[str, int] = {}
    for line in lines:
        parts = line.split(",")
        if len(parts) >= 3 and parts[0].isdigit():
            counts[parts[2].split(":")[0]] = int(parts[0])
    return counts
