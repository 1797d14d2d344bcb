"""Read one probe output into a ``HostSample`` (the records of diag/probe/measurements.py).

In: the stdout of ``probe_command()`` (see probe.sh for the sections). Each ``file`` section is parsed
by the source that declares its path (``diag.probe.sources``); ``derive.host_sample`` makes the values.
Out: ``HostSample``, whose ``as_vars()`` is the dict ``register:`` stores (shape in the README). The
clock is Δ of the first field of /proc/uptime; every counter is rated over that measured interval.

>>> sample = parse_probe(EXAMPLE)
>>> v = sample.as_vars()
>>> v["interval_s"], v["rates"]["minflt_per_s"], v["rates"]["majflt_per_s"], v["psi"]["memory_some_pct"]
(2.0, 450.0, 25.0, 1.5)
>>> v["processes"][0]["comm"], v["processes"][0]["majflt_per_s"], v["not_evaluable"]["psi_io"]
('pf (x) y', 20.0, '/proc/pressure/io: No such file or directory')
"""

from __future__ import annotations

import dataclasses

from diag.probe.derive import host_sample
from diag.probe.facts import blockdevs_of, parse_facts_lines
from diag.probe.measurements import HostSample, LockedProcess
from diag.probe.memcg import MemCgroup, parse_memcg
from diag.probe.memcgstat import Bundles, MemcgDelta, parse_workloads_section
from diag.probe.perfstat import parse_perf_counters
from diag.probe.pidstat import (
    parse_cgroup_path,
    parse_children_row,
    parse_cpu_row,
    parse_locked_row,
    parse_memlock_limit_kib,
    parse_proc_row,
    parse_status_kib,
)
from diag.probe.sections import Section, split_sections
from diag.probe.snapshot import ProcInfo, RawSample, Snapshot
from diag.probe.source import ONCE
from diag.probe.sources import BY_PATH
from diag.shared.errors import ParseError

Sample = HostSample  # the name the probe API has always used

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


def _where(s: Section) -> str:
    return f"probe output line {s.lineno}"


def _read(s: Section, parsed: dict[str, object], missing: dict[str, str]) -> None:
    """One ``file``/``unreadable`` section into ``parsed``/``missing``, by the source of its path."""
    path, _, why = s.args.partition(" ")
    source = BY_PATH.get(path)
    if source is None:
        return  # a file a newer probe reads: not ours to interpret
    if s.kind == "unreadable":
        missing[source.name] = f"{path}: {why or 'unreadable'}"
        parsed.pop(source.name, None)
    else:
        parsed[source.name] = source.parse(s.lines, path)
        missing.pop(source.name, None)


def _details(info: ProcInfo, s: Section) -> ProcInfo:
    status = parse_status_kib(s.lines)
    limit: int | None = None
    cgroup: str | None = None
    memcg: MemCgroup | None = None
    seen: set[str] = set()  # the first line of each kind counts, as the probe prints one
    for x in s.lines:
        kind = x[:6]
        if kind in seen or kind not in ("Max lo", "cgroup", "memcg "):
            continue
        if kind == "Max lo" and x.startswith("Max locked memory"):
            limit = parse_memlock_limit_kib(x)
        elif kind == "cgroup" and x.startswith("cgroup "):
            cgroup = parse_cgroup_path(x[len("cgroup ") :])
        elif kind == "memcg ":
            memcg = parse_memcg(x)
        else:
            continue
        seen.add(kind)
    if memcg is not None:
        cgroup = memcg.path  # on hybrid hosts the v2 line says "/" while the memory controller is v1
    return ProcInfo(
        info.delta, info.children_minflt_delta, info.children_majflt_delta, status.get("VmRSS"),
        status.get("VmSwap"), status.get("VmLck"), status.get("VmPin"), limit, cgroup, memcg, info.cpu,
    )  # fmt: skip


def _totals(line: str) -> dict[str, int]:
    try:
        return {k: max(int(v), 0) for k, v in (item.split("=", 1) for item in line.split()[1:])}
    except ValueError:
        raise ParseError(f"expected 'totals key=N ...': {line!r}", where="probe procs") from None


def _procs(s: Section, procs: dict[int, ProcInfo], totals: dict[str, int]) -> None:
    for line in s.lines:
        if line.startswith("totals "):
            totals.update(_totals(line))
        elif line.startswith("children "):
            pid, dmin, dmaj = parse_children_row(line)
            if pid in procs:
                info = procs[pid]
                procs[pid] = dataclasses.replace(info, children_minflt_delta=dmin, children_majflt_delta=dmaj)
        elif line.startswith("cpu "):
            pid, ticks = parse_cpu_row(line)
            if pid in procs:
                procs[pid] = dataclasses.replace(procs[pid], cpu=ticks)
        elif line:
            row = parse_proc_row(line)
            procs[row.pid] = ProcInfo(row)


def _check_frame(sections: list[Section]) -> None:
    # the watchdog first: a probe it stopped early may have had nothing else flushed out of its awk yet
    for s in sections:
        if s.kind == "watchdog":
            raise ParseError(f"the probe's watchdog stopped it: {s.args}", where=_where(s))
    if not sections or sections[0].kind != "probe":
        raise ParseError("not pfdiag probe output (no '@@pfdiag probe' header)", where="probe output line 1")
    if sections[-1].kind != "end":
        last = (sections[-1].lines or (f"@@pfdiag {sections[-1].kind} {sections[-1].args}",))[-1]
        raise ParseError(f"probe output is cut short after: {last!r}", where="probe output")


def parse_raw(text: str) -> RawSample:
    """Parse a complete probe output, file by file; ParseError (quoting the line) when cut or malformed."""
    sections = split_sections(text)
    _check_frame(sections)
    facts_lines: tuple[str, ...] = ()
    snaps: list[Snapshot] = []
    parsed: dict[str, object] = {}
    missing: dict[str, str] = {}
    once: dict[str, object] = {}
    once_missing: dict[str, str] = {}
    uptime = -1.0
    perf_state, perf_counts = "unused", {}
    perf_reason: str | None = "not run"
    totals: dict[str, int] = {}
    procs: dict[int, ProcInfo] = {}
    locked: list[LockedProcess] | None = None
    memcgs: list[MemcgDelta] | None = None
    bundles: Bundles = {}
    memcgs_note: str | None = None
    for s in sections[1:]:
        if s.kind in ("file", "unreadable") and uptime >= 0:
            source = BY_PATH.get(s.args.split(" ", 1)[0])
            if source is not None and source.read == ONCE:
                _read(s, once, once_missing)
            else:
                _read(s, parsed, missing)
        elif s.kind in ("snap", "procs", "end") and uptime >= 0:
            snaps.append(Snapshot(uptime, parsed, missing))
            uptime, parsed, missing = -1.0, {}, {}
        if s.kind == "facts":
            facts_lines = s.lines
        elif s.kind == "snap":
            try:
                uptime = float(s.args.split()[1])
                if not 0 <= uptime < float("inf"):
                    raise ValueError
            except (IndexError, ValueError):
                raise ParseError(f"bad snapshot marker: '@@pfdiag snap {s.args}'", where=_where(s)) from None
        elif s.kind == "perf":
            perf_state, _, reason = s.args.partition(" ")
            perf_reason = reason or None
            perf_counts = parse_perf_counters(s.lines)
        elif s.kind == "procs":
            _procs(s, procs, totals)
        elif s.kind == "pid":
            try:
                pid = int(s.args.split()[0])
            except (IndexError, ValueError):
                raise ParseError(f"bad process marker: '@@pfdiag pid {s.args}'", where=_where(s)) from None
            if pid in procs:
                procs[pid] = _details(procs[pid], s)
        elif s.kind == "locked":
            locked = [parse_locked_row(line) for line in s.lines if line]
        elif s.kind == "workloads":
            memcgs, bundles, memcgs_note = parse_workloads_section(s.args, s.lines)
    if len(snaps) != 2:
        raise ParseError(f"expected 2 snapshots, found {len(snaps)}", where="probe output")
    if snaps[1].uptime_s < snaps[0].uptime_s:
        raise ParseError(
            f"the clock went backwards: /proc/uptime {snaps[0].uptime_s} then {snaps[1].uptime_s}",
            where="probe output",
        )
    facts, facts_missing = parse_facts_lines(facts_lines)
    return RawSample(
        (snaps[0], snaps[1]), once, once_missing, facts, facts_missing, blockdevs_of(facts_lines),
        perf_state, perf_reason, perf_counts, totals, list(procs.values()), locked,
        memcgs, bundles, memcgs_note,
    )  # fmt: skip


def parse_probe(text: str) -> HostSample:
    """Parse a complete probe output into the host's records; ParseError (quoting the line) when not."""
    return host_sample(parse_raw(text))
