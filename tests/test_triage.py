"""End to end: `pfdiag run playbooks/triage.yml` on this machine, against real fault workloads.

Each workload is a real process making real faults on this kernel (see tests/workloads/); the triage
must give the right verdict and name the workload's pid, also when its comm holds spaces and
parentheses. No mocks: the probe runs through the local transport against the live /proc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main

REPO = Path(__file__).resolve().parent.parent
TRIAGE = str(REPO / "playbooks" / "triage.yml")


def run_triage(tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """Run the triage of localhost with a 1 s interval; return the exit code and the --json document."""
    out = tmp_path / "run"
    json_path = tmp_path / "result.json"
    code = main(["run", TRIAGE, "-e", "interval_s=1", "-o", str(out), "--json", str(json_path), *extra])
    return code, json.loads(json_path.read_text())


def localhost(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["hosts"]["localhost"]


def culprit_pids(host: dict[str, Any]) -> list[int]:
    return [c["pid"] for c in host["culprits"]]


@pytest.mark.workload
def test_minor_storm_is_diagnosed_as_minor_storm_naming_the_workload(minor_storm, tmp_path):
    code, doc = run_triage(tmp_path)
    host = localhost(doc)
    assert code == 0
    assert host["status"] == "ok"
    assert host["verdict"] == "minor-storm"
    assert minor_storm.pid in culprit_pids(host)
    culprit = next(c for c in host["culprits"] if c["pid"] == minor_storm.pid)
    assert culprit["comm"] == minor_storm.comm
    assert culprit["minflt_per_s"] >= 1000


@pytest.mark.workload
def test_paged_out_file_mapping_is_diagnosed_as_file_backed_majors(file_majors, tmp_path):
    code, doc = run_triage(tmp_path)
    host = localhost(doc)
    assert code == 0
    assert host["verdict"] == "major-file"
    assert file_majors.pid in culprit_pids(host)
    culprit = next(c for c in host["culprits"] if c["pid"] == file_majors.pid)
    assert culprit["comm"] == file_majors.comm
    assert culprit["majflt_per_s"] >= 10
    assert host["rates"]["pswpin_per_s"] < 10


@pytest.mark.workload
def test_working_set_over_cgroup_limit_is_diagnosed_as_swap_majors(swap_majors, tmp_path):
    code, doc = run_triage(tmp_path)
    host = localhost(doc)
    assert code == 0
    assert host["verdict"] == "major-swap"
    assert swap_majors.pid in culprit_pids(host)
    assert host["rates"]["pswpin_per_s"] >= 10
    swap_check = next(f for f in host["findings"] if f["check"] == "swap-in")
    assert swap_check["status"] == "fail"


@pytest.mark.workload
def test_swap_majors_inside_a_full_memory_cgroup_blame_the_cgroup_limit_not_the_host(swap_majors, tmp_path):
    _, doc = run_triage(tmp_path)
    host = localhost(doc)
    culprit = next(p for p in host["top_processes"] if p["pid"] == swap_majors.pid)
    assert culprit["memcg"]["limit_kib"] == 64 * 1024
    assert culprit["cgroup"] == culprit["memcg"]["path"]
    limit_check = next(f for f in host["findings"] if f["check"] == "cgroup-limit")
    assert limit_check["status"] == "fail"
    assert limit_check["evidence"]["limit_kib"] == 64 * 1024
    assert host["remediation"][0]["title"].startswith("Raise the cgroup's memory limit")


def failing(host: dict[str, Any], *severities: str) -> list[dict[str, Any]]:
    return [f for f in host["findings"] if f["status"] == "fail" and f["severity"] in severities]


@pytest.mark.workload
def test_quiet_machine_is_ok(busy_host, tmp_path):
    # "quiet" as hosts are: ordinary activity (tests/workloads/busy_host.py) runs beside the triage
    code, doc = run_triage(tmp_path)
    host = localhost(doc)
    assert code == 0
    assert host["verdict"] == "ok", host["summary"]
    assert host["culprits"] == []
    # the controller examining its own host (here: this pytest process) is never ranked
    assert os.getpid() not in [p["pid"] for p in host["top_processes"]]


@pytest.mark.workload
def test_json_has_the_documented_keys_and_the_report_names_the_culprit(minor_storm, tmp_path):
    _, doc = run_triage(tmp_path)
    host = localhost(doc)
    for key in ("status", "verdict", "findings", "rates", "top_processes"):
        assert key in host
    for key in ("pid", "comm", "minflt_per_s", "majflt_per_s"):
        assert key in host["top_processes"][0]
    for key in ("minflt_per_s", "majflt_per_s", "pswpin_per_s"):
        assert key in host["rates"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "minor-storm" in report
    assert str(minor_storm.pid) in report
    assert (tmp_path / "run" / "hosts.jsonl").read_text().count("\n") == 1


@pytest.mark.workload
def test_fail_on_turns_a_warning_verdict_into_exit_code_10(minor_storm, tmp_path):
    code, doc = run_triage(tmp_path, "--fail-on", "warning")
    assert localhost(doc)["verdict"] == "minor-storm"
    assert code == 10


@pytest.mark.workload
def test_thresholds_are_overridable_with_extra_vars(minor_storm, tmp_path):
    code, doc = run_triage(
        tmp_path, "-e", "proc_minflt_per_s=1000000000", "-e", "host_minflt_per_s=1000000000"
    )
    host = localhost(doc)
    assert code == 0
    assert host["verdict"] == "ok"
    proc_minor = next(f for f in host["findings"] if f["check"] == "proc-minor-rate")
    assert proc_minor["threshold"] == 1000000000


@pytest.mark.workload
def test_parent_of_short_lived_faulting_children_is_named_with_its_childrens_rate(fork_storm, tmp_path):
    code, doc = run_triage(tmp_path)
    host = localhost(doc)
    assert code == 0
    assert host["verdict"] == "minor-storm", host["summary"]
    culprit = next(c for c in host["culprits"] if c["pid"] == fork_storm.pid)
    assert culprit["comm"] == fork_storm.comm == "batch (runner)"
    # the storm is in the children it reaped, not in the parent itself
    assert culprit["children_minflt_per_s"] >= 10_000 > culprit["minflt_per_s"]
    parent = next(p for p in host["top_processes"] if p["pid"] == fork_storm.pid)
    assert parent["total_minflt_per_s"] == pytest.approx(
        parent["minflt_per_s"] + parent["children_minflt_per_s"], abs=0.02
    )
    assert parent["children_minflt_delta"] > 0
    proc_minor = next(f for f in host["findings"] if f["check"] == "proc-minor-rate")
    assert proc_minor["status"] == "fail"
    assert f"batch (runner)[{fork_storm.pid}]: " in proc_minor["message"]
    assert "minor/s itself + " in proc_minor["message"] and "/s in exited children" in proc_minor["message"]
    assert doc["hosts"]["localhost"]["sample"]["process_totals"]["attributed_pct"] > 0
    report = (tmp_path / "run" / "report.md").read_text()
    assert "in exited children" in report


@pytest.mark.workload
def test_a_busy_but_healthy_host_is_ok_and_names_its_spikes_as_info(busy_host, tmp_path):
    """Issue 16: shells reaping short commands and interpreters, a service starting: over the guide's
    1,000 minor/s per process, a few ms/s of CPU. A spike (info) naming them, not a minor-storm."""
    code, doc = run_triage(tmp_path, "-e", "interval_s=2")  # two interpreter starts land in it
    host = localhost(doc)
    assert code == 0
    assert host["verdict"] == "ok", host["summary"]
    assert failing(host, "warning", "critical") == [], host["findings"]
    over = [p for p in host["top_processes"] if p["total_minflt_per_s"] >= 1000]
    assert over, host["top_processes"]  # the load does cross the guide's line...
    spike = next(f for f in host["findings"] if f["check"] == "spike")
    proc_minor = next(f for f in host["findings"] if f["check"] == "proc-minor-rate")
    assert (
        (spike["status"], spike["severity"])
        == (proc_minor["status"], proc_minor["severity"])
        == ("fail", "info")
    )
    for p in over:  # ...and every process that did is named, with its rates
        assert f"{p['comm']}[{p['pid']}]" in spike["message"]
        assert p["pid"] in proc_minor["evidence"]["pids_over"]
        # ...at what it cost: the least (1 us a fault) within the measured system time, under the line
        assert 0 <= p["cost"]["minor_ms_per_s"] < 50 and p["cost"]["sys_ms_per_s"] is not None
    cost = next(f for f in host["findings"] if f["check"] == "proc-minor-cost")
    assert cost["status"] == "pass" and cost["threshold"] == 50
    assert "no page-fault problem" in host["summary"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "page-fault spike" in report


@pytest.mark.workload
def test_the_guides_line_is_the_verdict_line_again_with_a_zero_cost_line(busy_host, tmp_path):
    code, doc = run_triage(tmp_path, "-e", "interval_s=2", "-e", "proc_minor_ms_per_s=0")
    host = localhost(doc)
    assert code == 0 and host["verdict"] == "minor-storm", host["summary"]
    assert all(c["minflt_per_s"] + c["children_minflt_per_s"] >= 1000 for c in host["culprits"])


@pytest.mark.workload
def test_a_second_pfdiag_controller_starting_is_never_a_culprit(minor_storm, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "diag", "run", TRIAGE, "-e", "interval_s=3", "-o", str(tmp_path / "second")]
    second = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        code, doc = run_triage(tmp_path)  # the second one imports (thousands of faults) meanwhile
    finally:
        second.wait(timeout=60)
    host = localhost(doc)
    assert code == 0 and host["verdict"] == "minor-storm"
    assert second.pid not in [p["pid"] for p in host["top_processes"]]
    assert minor_storm.pid in culprit_pids(host) and second.pid not in culprit_pids(host)
