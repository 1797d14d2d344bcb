"""The typed records crossing the stages: recorded runs load into them, the JSON is derived from them, and
what users see (swap-ins, thresholds, children's faults) comes from them and from the findings."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pandas as pd

from diag.findings import Culprit, Finding, HostResult, RunResult, Verdict
from diag.fleet import build_fleet, failed_frame, findings_frame
from diag.probe.measurements import HostSample, Process, Rates
from diag.report.cells import culprit_label
from diag.report.csv_export import HOSTS_CSV, PROCESSES_CSV, render_csvs
from diag.report.terminal import host_row
from diag.shared.records import from_data, to_data
from tests.fixtures.hosts_jsonl import read_host_lines
from tests.report.fleets import RUNS, mixed_fleet, recorded


def contains(new: Any, old: Any) -> bool:
    """``new`` has every key and value of ``old`` (and may add keys)."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and contains(new[k], v) for k, v in old.items())
    if isinstance(old, list):
        return isinstance(new, list) and len(new) == len(old) and all(map(contains, new, old))
    return bool(new == old)


def test_every_recorded_host_loads_into_typed_records_and_writes_back_every_recorded_key() -> None:
    for folder in sorted(p for p in RUNS.iterdir() if p.is_dir()):
        for entry in read_host_lines(folder):
            old = entry["result"]
            host = HostResult.from_dict(old)
            assert (host.sample is None) == (not old["sample"])
            if host.sample is not None:
                assert isinstance(host.sample.rates, Rates) and all(
                    isinstance(p, Process) for p in host.sample.processes
                )
            new = json.loads(json.dumps(host.to_dict()))
            for key in ("rates", "top_processes", "sample", "facts", "findings", "culprits"):
                assert contains(new[key], old[key]), (folder.name, old["host"], key)
            assert HostResult.from_dict(new).to_dict() == host.to_dict()


def test_json_rates_top_processes_and_sample_are_one_view_of_the_record() -> None:
    host = recorded("minor-storm").hosts[0]
    assert host.sample is not None
    data = host.to_dict()
    assert data["rates"] == data["sample"]["rates"] and data["top_processes"] == data["sample"]["processes"]
    assert data["sample"] == host.sample.view()
    assert HostSample.from_view(host.sample.view()) == host.sample


def zswap_host() -> HostResult:
    """A recorded major-swap host whose swap-ins were zswap loads: pswpin 0, zswpin 2,500/s."""
    host = recorded("major-swap").hosts[0]
    assert host.sample is not None
    rates = replace(host.sample.rates, pswpin_per_s=0.0, zswpin_per_s=2500.0, swapin_per_s=2500.0)
    host.sample = replace(host.sample, rates=rates)
    return host


def test_every_swap_in_shown_is_the_swapin_rate_the_verdict_uses() -> None:
    host = zswap_host()
    assert host_row(host)[5] == "2,500"  # the terminal's swap-in/s column
    run = RunResult(playbook="triage", inventory=[], limit=None, started="", hosts=[host])
    fleet = build_fleet(run)
    assert fleet.hosts.loc[0, "swapin_per_s"] == 2500.0 and fleet.hosts.loc[0, "pswpin_per_s"] == 0.0
    assert fleet.percentiles.at["swapin_per_s", "max"] == 2500.0
    rows = render_csvs(fleet)["hosts.csv"].splitlines()
    header = rows[0].split(",")
    assert header == HOSTS_CSV and header[-1] == "swapin_per_s" and rows[1].endswith(",2500.0")


def test_fleet_reads_thresholds_and_floors_from_what_the_findings_measure_not_their_ids() -> None:
    run = mixed_fleet()
    fleet = build_fleet(run)
    assert fleet.thresholds() == {"majflt_per_s": 500.0, "minflt_per_s": 50000.0}
    assert fleet.floors == {"majflt_per_s": 10.0, "minflt_per_s": 5000.0}
    # another playbook: other check ids, other thresholds; only `measures` says what they are
    for host in run.hosts:
        host.findings = [
            replace(f, check=f"my-{f.check}", threshold=(f.threshold or 0) * 2) if f.measures else f
            for f in host.findings
        ]
    fleet = build_fleet(run)
    assert fleet.thresholds() == {"majflt_per_s": 1000.0, "minflt_per_s": 100000.0}
    assert fleet.floors == {"majflt_per_s": 20.0, "minflt_per_s": 10000.0}


def test_findings_without_measures_give_no_thresholds_and_no_floor() -> None:
    run = mixed_fleet()
    for host in run.hosts:
        host.findings = [replace(f, measures=None) for f in host.findings]
    fleet = build_fleet(run)
    assert fleet.thresholds() == {} and fleet.floors == {"majflt_per_s": 0.0, "minflt_per_s": 0.0}


def test_a_culprit_named_for_its_childrens_faults_says_so() -> None:
    batch = Culprit(pid=812, comm="batch (runner)", minflt_per_s=2300.0, majflt_per_s=0.0,
                    children_minflt_per_s=210000.0)  # fmt: skip
    assert (
        culprit_label(batch, "minor-storm")
        == "batch (runner)[812] 2,300 min/s + 210,000/s in exited children"
    )
    assert batch.total_minflt_per_s == 212300.0
    host = recorded("minor-storm").hosts[0]
    assert host.sample is not None
    parent = replace(host.sample.processes[0], pid=812, comm="batch (runner)", children_minflt_per_s=210000.0)
    host.sample = replace(host.sample, processes=(parent, *host.sample.processes[1:]))
    host.verdict = Verdict("minor-storm", "warning", "storm", (batch,))
    run = RunResult(playbook="triage", inventory=[], limit=None, started="", hosts=[host])
    fleet = build_fleet(run)
    assert list(fleet.processes.columns) == PROCESSES_CSV
    row = fleet.processes[fleet.processes["pid"].eq(812)].iloc[0]
    assert row["children_minflt_per_s"] == 210000.0 and bool(row["culprit"])
    assert fleet.culprits.iloc[0]["max"] >= 210000.0  # ranked by own + children
    assert (
        from_data(Finding, {**to_data(Finding("c", "t", "pass", "info", "m")), "measures": "host.x"}).measures
        == "host.x"
    )


def test_the_failed_frame_is_the_findings_frame_of_the_failed_checks() -> None:
    names = sorted(p.name for p in RUNS.iterdir() if (p / "hosts.jsonl").exists())
    assert names
    for name in names:
        run = recorded(name)
        findings = findings_frame(run)
        failed = findings[findings["status"] == "fail"].reset_index(drop=True)
        assert len(failed) or name == "quiet", name
        pd.testing.assert_frame_equal(failed_frame(run), failed, check_dtype=False, check_index_type=False)
