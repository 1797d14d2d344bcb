"""Turn a ``RawSample`` (two snapshots, once-read files, reduced processes) into the ``HostSample``.

In: ``RawSample`` from ``parse_probe``. Out: ``HostSample``, each part made by the source module that
owns it (``vmstat_rates``, ``disk_rates``, ``psi_values``, ``memory_values``, ``buddyinfo_values``,
``numa_values``). Counters are rated over the interval measured by /proc/uptime; anything that cannot
be measured on this kernel or host is None with a reason under ``not_evaluable`` (never guessed).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from diag.probe.buddyinfo import BuddyZone, buddyinfo_values
from diag.probe.cost import host_cost, process_cost
from diag.probe.diskstats import DiskStat, disk_rates
from diag.probe.measurements import HostSample, Perf, Process, ProcessTotals, Rates
from diag.probe.memcgstat import WorkloadFaults, name_workload
from diag.probe.meminfo import memory_values, pct
from diag.probe.numa import numa_values
from diag.probe.pidstat import cap_children
from diag.probe.pressure import RESOURCES, Pressure, psi_values
from diag.probe.snapshot import RawSample, Snapshot
from diag.probe.swaps import SwapDevice
from diag.probe.vmstat import rate, vmstat_rates
from diag.probe.workload import Workload

HIDEPID_OFF = (None, "none", "0", "off", "noaccess")


def _get(values: dict[str, object], name: str) -> Any:
    return values.get(name)


def _rates(s: RawSample, swaps: tuple[SwapDevice, ...], ne: dict[str, str]) -> Rates:
    a, b = s.snaps
    vm = vmstat_rates(_get(a.parsed, "vmstat"), _get(b.parsed, "vmstat"), s.interval_s, ne)
    disks: dict[str, DiskStat] | None = _get(a.parsed, "diskstats")
    disks_b: dict[str, DiskStat] | None = _get(b.parsed, "diskstats")
    disk = disk_rates(disks, disks_b, s.interval_s, swaps, s.blockdevs, ne)
    return Rates(**vm, **disk)  # type: ignore[arg-type]


def _psi(a: Snapshot, b: Snapshot, dt: float, ne: dict[str, str]) -> Any:
    def read(snap: Snapshot) -> dict[str, dict[str, Pressure] | None]:
        return {res: _get(snap.parsed, f"pressure/{res}") for res in RESOURCES}

    missing = {
        res: b.missing.get(f"pressure/{res}") or a.missing[f"pressure/{res}"]
        for res in RESOURCES
        if f"pressure/{res}" in b.missing or f"pressure/{res}" in a.missing
    }
    return psi_values(read(a), read(b), missing, dt, ne)


def _processes(s: RawSample, rates: Rates, ne: dict[str, str]) -> tuple[tuple[Process, ...], ProcessTotals]:
    dt = s.interval_s
    host_faults_per_s = rates.pgfault_per_s
    clk_tck = s.facts.clk_tck or 100
    if s.processes and all(p.cpu is None for p in s.processes):
        ne["processes.cost"] = (
            "CPU time of processes not in the probe output (recorded by an older pfdiag): "
            "fault costs are estimated from the rates alone"
        )
    elif s.processes and not s.facts.clk_tck:
        ne["processes.cost"] = "CLK_TCK not reported: CPU time read with 100 ticks per second"
    rows = []
    for p in s.processes:
        d = p.delta
        dmin, dmaj = max(d.minflt_delta, 0), max(d.majflt_delta, 0)
        cmin = cap_children(p.children_minflt_delta, rates.minflt_per_s, dt)
        cmaj = cap_children(p.children_majflt_delta, rates.majflt_per_s, dt)
        if (cmin, cmaj) != (p.children_minflt_delta, p.children_majflt_delta):
            ne[f"processes.{d.pid}.children"] = (
                f"{d.comm}[{d.pid}]: faults of exited children capped at the host-wide count of the interval"
            )
        total_min, total_maj = rate(dmin + cmin, dt), rate(dmaj + cmaj, dt)
        rows.append(
            Process(
                pid=d.pid, comm=d.comm, starttime=d.starttime, state=d.state,
                minflt_per_s=rate(dmin, dt), majflt_per_s=rate(dmaj, dt),
                minflt_delta=dmin, majflt_delta=dmaj,
                new=d.new, rss_kib=p.rss_kib, swap_kib=p.swap_kib, lck_kib=p.lck_kib,
                memlock_limit_kib=p.memlock_limit_kib, cgroup=p.cgroup, memcg=p.memcg, pin_kib=p.pin_kib,
                children_minflt_per_s=rate(cmin, dt), children_majflt_per_s=rate(cmaj, dt),
                children_minflt_delta=cmin, children_majflt_delta=cmaj,
                total_minflt_per_s=total_min, total_majflt_per_s=total_maj,
                cost=process_cost(total_min, total_maj, p.cpu, clk_tck, dt),
                workload=_process_workload(p.memcg.path if p.memcg else p.cgroup, s),
            )
        )  # fmt: skip
    rows.sort(
        key=lambda r: (
            -(r.majflt_delta + r.children_majflt_delta),
            -(r.minflt_delta + r.children_minflt_delta),
            r.pid,
        )
    )
    t = s.totals
    hidepid = s.facts.hidepid
    hidden: int | None = t.get("hidden")
    if hidepid not in HIDEPID_OFF and hidden == 0:
        hidden = None  # hidepid=2/invisible: other users' processes are not even listed
        ne["process_totals.hidden"] = f"/proc mounted with hidepid={hidepid}: hidden processes are not listed"
    elif hidden:
        ne["processes.hidden"] = (
            f"{hidden} processes not readable (hidepid or permissions): faults not attributed"
        )
    named = sum(
        r.minflt_delta + r.majflt_delta + r.children_minflt_delta + r.children_majflt_delta for r in rows
    )
    attributed = pct(rate(named, dt), host_faults_per_s)
    if attributed is None:
        ne["process_totals.attributed_pct"] = "no host-wide fault rate to compare with"
    totals = ProcessTotals(
        seen=t.get("seen", 0) + (t.get("hidden", 0) or 0),
        faulting=t.get("faulting"),
        readable=t.get("readable"),
        hidden=hidden,
        attributed_minflt_per_s=rate(t.get("minflt"), dt),
        attributed_majflt_per_s=rate(t.get("majflt"), dt),
        # children's faults reaped in the interval may have been made before it: never above 100 %
        attributed_pct=None if attributed is None else min(attributed, 100.0),
    )
    return tuple(rows), totals


def _process_workload(path: str | None, s: RawSample) -> Workload | None:
    """The workload of a process's memory cgroup; none for the root cgroup (nothing names it)."""
    return None if path in (None, "", "/") else name_workload(str(path), s.bundles)


def _inside(process: Process, memcg: str) -> bool:
    path = process.workload.memcg if process.workload else None
    return path is not None and (path == memcg or path.startswith(memcg.rstrip("/") + "/"))


def _workloads(
    s: RawSample, processes: tuple[Process, ...], ne: dict[str, str]
) -> tuple[WorkloadFaults, ...]:
    """Each reported memory cgroup's faults, rated, named, and how much of them its listed processes make."""
    if s.memcgs is None:
        ne["workloads"] = "no memory cgroup controller mounted (or a probe from before per-workload faults)"
        return ()
    if s.memcgs_note:
        ne["workloads.cut"] = s.memcgs_note
    dt = s.interval_s
    rows = []
    for m in s.memcgs:
        inside = [p for p in processes if _inside(p, m.path)]
        made = sum(
            p.minflt_delta + p.majflt_delta + p.children_minflt_delta + p.children_majflt_delta
            for p in inside
        )
        faults = m.minflt_delta + m.majflt_delta
        busiest = max(
            inside, key=lambda p: (p.total_majflt_per_s or 0, p.total_minflt_per_s or 0), default=None
        )
        rows.append(
            WorkloadFaults(
                memcg=m.path, workload=name_workload(m.path, s.bundles),
                minflt_per_s=rate(m.minflt_delta, dt), majflt_per_s=rate(m.majflt_delta, dt),
                minflt_delta=m.minflt_delta, majflt_delta=m.majflt_delta, new=m.new, processes=len(inside),
                process_share_pct=min(pct(made, faults) or 0.0, 100.0) if faults else None,
                busiest_pid=busiest.pid if busiest else None, busiest_comm=busiest.comm if busiest else None,
            )
        )  # fmt: skip
    rows.sort(key=lambda w: (-w.majflt_delta, -w.minflt_delta, w.memcg))
    return tuple(rows)


def _perf(s: RawSample, ne: dict[str, str]) -> Perf:
    usable = s.perf_state == "ok"
    reason = (
        None if usable else (s.perf_reason if s.perf_state == "unused" else f"perf failed: {s.perf_reason}")
    )
    if not usable:
        ne["perf"] = reason or "perf not used"

    def count(event: str) -> int | None:
        if not usable:
            return None
        counter = s.perf_counts.get(event)
        if counter is None or counter.count is None:
            # unknown, with perf's reason: never 0, never a silent gap
            why = f"<{counter.unknown}>" if counter is not None else "no line"
            ne[f"perf.{event.replace('-', '_')}"] = f"perf stat printed {why} for {event}"
            return None
        return counter.count

    page, minor, major = count("page-faults"), count("minor-faults"), count("major-faults")
    return Perf(
        usable=usable,
        reason=reason,
        page_faults=page,
        page_faults_per_s=rate(page, s.interval_s),
        minor_faults=minor,
        minor_faults_per_s=rate(minor, s.interval_s),
        major_faults=major,
        major_faults_per_s=rate(major, s.interval_s),
    )


def host_sample(s: RawSample) -> HostSample:
    """All of a host's measurements from one probe run."""
    ne: dict[str, str] = {f"facts.{k}": v for k, v in s.facts_missing.items()}
    swaps: tuple[SwapDevice, ...] = tuple(_get(s.once, "swaps") or ())
    rates = _rates(s, swaps, ne)
    processes, totals = _processes(s, rates, ne)
    perf = _perf(s, ne)
    facts = dataclasses.replace(s.facts, perf_usable=perf.usable, perf_reason=perf.reason)
    zones: tuple[BuddyZone, ...] | None = _get(s.once, "buddyinfo")
    if zones is None:
        ne["buddyinfo"] = s.once_missing.get("buddyinfo", "/proc/buddyinfo not read")
    page_kib = (facts.page_size or 4096) // 1024
    a, b = s.snaps
    locked = None if s.locked is None else tuple(s.locked)
    psi = _psi(a, b, s.interval_s, ne)
    return HostSample(
        interval_s=s.interval_s,
        rates=rates,
        psi=psi,
        memory=memory_values(_get(b.parsed, "meminfo"), ne),
        swaps=swaps,
        processes=processes,
        process_totals=totals,
        facts=facts,
        perf=perf,
        buddyinfo=None if zones is None else buddyinfo_values(zones, page_kib),
        numa=numa_values(_get(s.once, "numa")),
        locked_processes=locked or (),
        cost=host_cost(rates.minflt_per_s, rates.majflt_per_s, psi.memory_some_pct, psi.memory_full_pct),
        workloads=_workloads(s, processes, ne),
        not_evaluable=ne,
    )
