"""Turn a ``Sample`` (two snapshots + reduced processes) into the ``as_vars()`` dict of rates.

Counters are rated over the interval measured by /proc/uptime; anything that cannot be measured
on this kernel or host is None with a reason under ``not_evaluable`` (never guessed).

Kernel choices made here:
- system minor faults = Δpgfault - Δpgmajfault (pgfault counts both).
- ``workingset_refault_file`` exists from 5.9; 3.15-5.8 have one ``workingset_refault`` that
  only ever counted page-cache (file) pages, since anon pages got shadow entries in 5.9. So it is
  reported as the file rate, and the anon rate is not evaluable there.
- ``pgscan_direct``/``allocstall``: the node-level name, else the sum of exact per-zone names.
- ``pgpgin`` is already KiB; diskstats sectors are 512 bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from diag.errors import ParseError
from diag.probe.diskstats import SECTOR_BYTES, whole_disks
from diag.probe.memcg import MemCgroup
from diag.probe.vmstat import vmstat_counter

if TYPE_CHECKING:
    from diag.probe.sample import Sample, Snapshot


def _rate(delta: float | None, interval_s: float) -> float | None:
    if delta is None or interval_s <= 0:
        return None
    return round(max(delta, 0) / interval_s, 2)


def _pct(part: float | None, whole: float | None) -> float | None:
    return round(100.0 * part / whole, 2) if part is not None and whole else None


def _vm_delta(a: Snapshot, b: Snapshot, name: str) -> int | None:
    """Second minus first; an event counter never goes down, so one that does means damaged output
    (or a 32-bit counter that wrapped): a ``ParseError`` quoting both lines, never a silent 0."""
    x, y = vmstat_counter(a.vmstat, name), vmstat_counter(b.vmstat, name)
    if x is None or y is None:
        return None
    if y < x:
        raise ParseError(
            f"/proc/vmstat counter went down between the two samples: '{name} {x}' then '{name} {y}'",
            hint="the probe output is damaged (or the counter wrapped); sample again",
        )
    return y - x


def _rates(s: Sample, ne: dict[str, str]) -> dict[str, float | int | None]:
    a, b = s.snaps
    dt = s.interval_s
    d = {name: _vm_delta(a, b, name) for name in (
        "pgfault", "pgmajfault", "pswpin", "pswpout", "pgpgin", "pgscan_direct", "allocstall", "oom_kill",
        "thp_fault_alloc", "thp_fault_fallback", "numa_hint_faults", "workingset_refault_file",
        "workingset_refault_anon", "workingset_refault", "zswpin",
    )}  # fmt: skip
    minflt = None if d["pgfault"] is None or d["pgmajfault"] is None else d["pgfault"] - d["pgmajfault"]
    refault_file, refault_anon = d["workingset_refault_file"], d["workingset_refault_anon"]
    if refault_file is None and d["workingset_refault"] is not None:
        refault_file = d["workingset_refault"]
        ne["workingset_refault_anon_per_s"] = (
            "kernel < 5.9: only workingset_refault, which counts file pages only (reported as file)"
        )
    disk, swap_disk = _disk_reads(s, ne)
    rates: dict[str, float | int | None] = {
        "pgfault_per_s": _rate(d["pgfault"], dt),
        "minflt_per_s": _rate(minflt, dt),
        "majflt_per_s": _rate(d["pgmajfault"], dt),
        "pswpin_per_s": _rate(d["pswpin"], dt),
        "pswpout_per_s": _rate(d["pswpout"], dt),
        "zswpin_per_s": _rate(d["zswpin"], dt),
        # a page loaded back from zswap is a major fault that pswpin does not count
        "swapin_per_s": _rate(None if d["pswpin"] is None else d["pswpin"] + (d["zswpin"] or 0), dt),
        "workingset_refault_file_per_s": _rate(refault_file, dt),
        "workingset_refault_anon_per_s": _rate(refault_anon, dt),
        "pgpgin_kib_per_s": _rate(d["pgpgin"], dt),
        "disk_read_kib_per_s": _rate(disk, dt),
        "swap_disk_read_kib_per_s": _rate(swap_disk, dt),
        "pgscan_direct_per_s": _rate(d["pgscan_direct"], dt),
        "allocstall_per_s": _rate(d["allocstall"], dt),
        "oom_kill": d["oom_kill"],
        "thp_fault_alloc_per_s": _rate(d["thp_fault_alloc"], dt),
        "thp_fault_fallback_per_s": _rate(d["thp_fault_fallback"], dt),
        "numa_hint_faults_per_s": _rate(d["numa_hint_faults"], dt),
    }
    why = {
        "workingset_refault_file_per_s": "no workingset_refault* in /proc/vmstat (kernel < 3.15)",
        "workingset_refault_anon_per_s": "no workingset_refault_anon in /proc/vmstat (kernel < 5.9)",
        "oom_kill": "no oom_kill in /proc/vmstat (kernel < 4.13)",
        "zswpin_per_s": "no zswpin in /proc/vmstat (kernel < 5.19 or no zswap): swap-ins are pswpin only",
        "thp_fault_alloc_per_s": "no thp_fault_alloc in /proc/vmstat (THP not built in)",
        "thp_fault_fallback_per_s": "no thp_fault_fallback in /proc/vmstat (THP not built in)",
        "numa_hint_faults_per_s": "no numa_hint_faults in /proc/vmstat (CONFIG_NUMA_BALANCING off)",
    }
    for key, value in rates.items():
        if value is None and key not in ne:
            ne[key] = why.get(key, f"counter for {key} missing from /proc/vmstat or unreadable")
    return rates


def _disk_reads(s: Sample, ne: dict[str, str]) -> tuple[float | None, float | None]:
    """KiB read by whole disks, and by the block devices backing swap (None with a reason)."""
    a, b = s.snaps
    if not a.diskstats or not b.diskstats:
        ne["disk_read_kib_per_s"] = ne["swap_disk_read_kib_per_s"] = "/proc/diskstats not readable"
        return None, None

    def kib(name: str) -> float:
        return (b.diskstats[name].sectors_read - a.diskstats[name].sectors_read) * SECTOR_BYTES / 1024

    # all-zero rows are dropped by the probe: a device seen only once has read nothing
    disks = [n for n in whole_disks(b.diskstats, s.blockdevs) if n in a.diskstats and n in b.diskstats]
    total = sum(kib(n) for n in disks)
    swap: float | None = None
    if not s.swaps:
        ne["swap_disk_read_kib_per_s"] = "no active swap in /proc/swaps"
    elif any(dev.type != "partition" for dev in s.swaps):
        ne["swap_disk_read_kib_per_s"] = (
            "swap on a file: its reads cannot be told apart from the filesystem's"
        )
    else:
        names = [dev.device.rsplit("/", 1)[-1] for dev in s.swaps]
        unknown = [n for n in names if n not in b.diskstats and n not in a.diskstats]
        if unknown:
            ne["swap_disk_read_kib_per_s"] = f"swap device {unknown[0]} not found in /proc/diskstats by name"
        else:
            swap = sum(kib(n) for n in names if n in a.diskstats and n in b.diskstats)
    return total, swap


def _psi(s: Sample, ne: dict[str, str]) -> dict[str, float | None]:
    a, b = s.snaps
    out: dict[str, float | None] = {}
    for res in ("memory", "io"):
        if res in b.psi_missing or res not in b.psi or res not in a.psi:
            ne[f"psi_{res}"] = b.psi_missing.get(res, f"/proc/pressure/{res} not read")
        for kind in ("some", "full"):
            p0, p1 = a.psi.get(res, {}).get(kind), b.psi.get(res, {}).get(kind)
            out[f"{res}_{kind}_avg10"] = p1.avg10 if p1 else None
            # total is µs of stall: % of the interval = Δµs / (Δs * 1e6) * 100
            pct = (
                (p1.total_us - p0.total_us) / (s.interval_s * 1e4) if p0 and p1 and s.interval_s > 0 else None
            )
            out[f"{res}_{kind}_pct"] = round(pct, 2) if pct is not None else None
    return out


def _memory(s: Sample, ne: dict[str, str]) -> dict[str, float | int | None]:
    mi = s.snaps[1].meminfo
    total, avail = mi.get("MemTotal"), mi.get("MemAvailable")
    swap_total, swap_free = mi.get("SwapTotal"), mi.get("SwapFree")
    if avail is None:
        ne["mem_available_kib"] = "no MemAvailable in /proc/meminfo (kernel < 3.14)"
    if not swap_total:
        ne["swap_used_pct"] = "no swap configured (SwapTotal 0)"
    used = swap_total - swap_free if swap_total and swap_free is not None else None
    return {
        "mem_total_kib": total,
        "mem_available_kib": avail,
        "mem_available_pct": _pct(avail, total),
        "swap_total_kib": swap_total,
        "swap_free_kib": swap_free,
        "swap_used_pct": _pct(used, swap_total),
        "mlocked_kib": mi.get("Mlocked"),
        "cached_kib": mi.get("Cached"),
    }


def _processes(s: Sample, ne: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dt = s.interval_s
    rows: list[dict[str, Any]] = [
        {
            "pid": p.delta.pid,
            "comm": p.delta.comm,
            "starttime": p.delta.starttime,
            "state": p.delta.state,
            "minflt_per_s": _rate(p.delta.minflt_delta, dt),
            "majflt_per_s": _rate(p.delta.majflt_delta, dt),
            "minflt_delta": p.delta.minflt_delta,
            "majflt_delta": p.delta.majflt_delta,
            "new": p.delta.new,
            "rss_kib": p.rss_kib,
            "swap_kib": p.swap_kib,
            "lck_kib": p.lck_kib,
            "memlock_limit_kib": p.memlock_limit_kib,
            "cgroup": p.cgroup,
            "memcg": _memcg(p.memcg),
        }
        for p in s.processes
    ]
    rows.sort(key=lambda r: (-r["majflt_delta"], -r["minflt_delta"], r["pid"]))
    t = s.totals
    hidepid = s.facts.get("hidepid")
    hidden: int | None = t.get("hidden")
    if hidepid not in (None, "none", "0", "off", "noaccess") and hidden == 0:
        hidden = None  # hidepid=2/invisible: other users' processes are not even listed
        ne["process_totals.hidden"] = f"/proc mounted with hidepid={hidepid}: hidden processes are not listed"
    elif hidden:
        ne["processes.hidden"] = (
            f"{hidden} processes not readable (hidepid or permissions): faults not attributed"
        )
    totals: dict[str, Any] = {
        "seen": t.get("seen", 0) + (t.get("hidden", 0) or 0),
        "faulting": t.get("faulting"),
        "readable": t.get("readable"),
        "hidden": hidden,
        "attributed_minflt_per_s": _rate(t.get("minflt"), dt),
        "attributed_majflt_per_s": _rate(t.get("majflt"), dt),
    }
    return rows, totals


def _memcg(cg: MemCgroup | None) -> dict[str, Any] | None:
    """The memory cgroup of a process: a limit it keeps hitting explains faults on a roomy host."""
    if cg is None:
        return None
    return {
        "version": cg.version,
        "path": cg.path,
        "limit_kib": cg.limit_kib,
        "high_kib": cg.high_kib,
        "usage_kib": cg.usage_kib,
        "usage_pct": cg.usage_pct,
        "limit_hits": cg.limit_hits,
        "oom_kills": cg.oom_kills,
    }


def _perf(s: Sample, ne: dict[str, str]) -> dict[str, object]:
    usable = s.perf_state == "ok"
    reason = (
        None if usable else (s.perf_reason if s.perf_state == "unused" else f"perf failed: {s.perf_reason}")
    )
    if not usable:
        ne["perf"] = reason or "perf not used"
    out: dict[str, object] = {"usable": usable, "reason": reason}
    for event in ("page-faults", "minor-faults", "major-faults"):
        key = event.replace("-", "_")
        count = s.perf_counts.get(event) if usable else None
        out[key] = count
        out[f"{key}_per_s"] = _rate(count, s.interval_s)
    return out


def sample_vars(s: Sample) -> dict[str, object]:
    """All of ``Sample.as_vars()``."""
    ne: dict[str, str] = {f"facts.{k}": v for k, v in s.facts_missing.items()}
    rates = _rates(s, ne)
    processes, totals = _processes(s, ne)
    facts = dict(s.facts)
    perf = _perf(s, ne)
    facts["perf_usable"], facts["perf_reason"] = perf["usable"], perf["reason"]
    return {
        "interval_s": s.interval_s,
        "rates": rates,
        "psi": _psi(s, ne),
        "memory": _memory(s, ne),
        "swaps": [
            {
                "device": d.device,
                "type": d.type,
                "size_kib": d.size_kib,
                "used_kib": d.used_kib,
                "priority": d.priority,
            }
            for d in s.swaps
        ],
        "processes": processes,
        "process_totals": totals,
        "facts": facts,
        "perf": perf,
        "not_evaluable": ne,
    }
