"""Fleets for the report tests and bench, built from the recorded real runs in tests/data/runs/.

In: the recorded host results (``load_run``). Out: deterministic ``RunResult``s -- the quiet run as
recorded, a mixed fleet (every verdict, every failure state, an outlier) and a 1,000-host fleet --
made by renaming and cloning recorded hosts. The one edited result is ``not-evaluable``: a quiet host
with its fault counters blanked (no kernel here hides them).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from diag.findings import HostResult, RunResult, Verdict
from diag.run.service import load_run

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"


def recorded(name: str) -> RunResult:
    return load_run(RUNS / name)


def _hosts(name: str) -> list[HostResult]:
    """A recorded run's hosts in name order (hosts.jsonl is in finishing order)."""
    return sorted(recorded(name).hosts, key=lambda h: h.host)


def clone(host: HostResult, name: str, group: str) -> HostResult:
    """A copy of a recorded result under another name and inventory group (reason renamed too)."""
    data = host.to_dict()
    data["host"] = name
    data["group_names"] = [group]
    if data.get("reason") and data["reason"].startswith(host.host + " "):
        data["reason"] = name + data["reason"][len(host.host) :]
    return HostResult.from_dict(data)


def not_evaluable(host: HostResult, name: str, group: str) -> HostResult:
    """A quiet host whose fault counters could not be read, as triage.yml's first verdict reports it."""
    result = clone(host, name, group)
    assert result.sample is not None
    rates = replace(result.sample.rates, majflt_per_s=None, minflt_per_s=None, pgfault_per_s=None)
    reason = "pgfault/pgmajfault not in /proc/vmstat"
    not_evaluable = {"majflt_per_s": reason, "minflt_per_s": reason}
    result.sample = replace(result.sample, rates=rates, not_evaluable=not_evaluable)
    result.verdict = Verdict(
        code="not-evaluable",
        severity="info",
        summary=f"fault counters could not be read: {not_evaluable}",
        task="Verdict - host fault counters unreadable",
    )
    result.findings = [f for f in result.findings if f.check not in ("host-major-rate", "host-minor-rate")]
    result.remediation = []
    return result


def _run(run: RunResult, hosts: list[HostResult], inventory: str, argv: list[str]) -> RunResult:
    """The recorded run's metadata (times, interval, version) with a synthetic inventory and hosts."""
    run.hosts = hosts
    run.inventory = [inventory]
    run.argv = argv
    run.run_dir = None
    return run


def quiet_fleet() -> RunResult:
    """The quiet recorded run, unchanged but for the run folder (a temp dir at recording time)."""
    run = recorded("quiet")
    run.run_dir = None
    run.hosts.sort(key=lambda h: h.host)
    return run


def mixed_fleet() -> RunResult:
    """15 hosts in web/db/cache: ok, minor-storm (java on 2 web hosts, an outlier), major-swap,
    major-file, not-evaluable, and the five failure states of the SSH fleet."""
    quiet, storm = _hosts("quiet"), _hosts("minor-storm")
    swap, file_, bad = _hosts("major-swap"), _hosts("major-file"), _hosts("ssh-failures")
    failed = {h.host: h for h in bad}
    hosts = [clone(quiet[i % 5], f"web{i + 1:02d}", "web") for i in range(6)]
    hosts += [clone(storm[0], "web07", "web"), clone(failed["refused"], "web08", "web")]
    hosts += [clone(quiet[0], "db01", "db"), clone(swap[0], "db02", "db"), clone(file_[0], "db03", "db")]
    hosts += [clone(failed["badauth"], "db04", "db")]
    hosts += [clone(quiet[1], "cache01", "cache"), not_evaluable(quiet[2], "cache02", "cache")]
    hosts += [clone(failed[n], f"cache{i + 3:02d}", "cache") for i, n in enumerate(("changed", "unknown"))]
    hosts.append(clone(failed["blackhole"], "cache05", "cache"))
    argv = ["run", "triage", "-i", "prod/hosts.ini", "-e", "interval_s=2"]
    return _run(recorded("minor-storm"), hosts, "prod/hosts.ini", argv)


def thousand_fleet() -> RunResult:
    """1,000 hosts: web001-600, db001-250, cache001-150, mostly quiet; java storms on 20 web hosts,
    redis-server swapping on 3 db hosts, postgres re-reading files on 4, 6 unreachable/auth-failed,
    1 not-evaluable. Positions are fixed, so the run is the same every time."""
    quiet, storm = _hosts("quiet"), _hosts("minor-storm")
    swap, file_, bad = _hosts("major-swap"), _hosts("major-file"), _hosts("ssh-failures")
    failed = {h.host: h for h in bad}
    cycle = itertools.cycle(quiet)
    sick = {
        **{f"web{n:03d}": storm[n % 5] for n in (*range(7, 17), *range(401, 409), 233, 512)},
        **{f"db{n:03d}": swap[n % 5] for n in (17, 18, 19)},
        **{f"db{n:03d}": file_[n % 5] for n in (101, 102, 103, 240)},
        **{f"web{n:03d}": failed["refused"] for n in (300, 301, 302)},
        "cache077": failed["blackhole"],
        **{f"cache{n:03d}": failed["badauth"] for n in (140, 141)},
    }
    hosts = []
    for group, count in (("web", 600), ("db", 250), ("cache", 150)):
        for n in range(1, count + 1):
            name = f"{group}{n:03d}"
            if name == "cache099":
                hosts.append(not_evaluable(quiet[0], name, group))
            else:
                hosts.append(clone(sick.get(name) or next(cycle), name, group))
    argv = ["run", "triage", "-i", "prod/", "-e", "interval_s=2", "-f", "100"]
    return _run(recorded("quiet"), hosts, "prod/", argv)


FLEETS = {"quiet": quiet_fleet, "mixed": mixed_fleet, "fleet1000": thousand_fleet}
