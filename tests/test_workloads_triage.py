"""A storm inside a pod, end to end: the triage names its namespace, pod and container in the terminal
table, report.md, ``--json``, the CSV and the audit (problem, notification, textfile); and when the pod's
faults are made by processes that exited, the triage names the pod, not a bystander. Needs root."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from tests.fixtures.containers import (
    container_id,
    containerd_bundle,
    join,
    kubepods_systemd_path,
    pod_uid,
    workload_cgroup,
)
from tests.fixtures.workloads import WORKLOADS_DIR, Workload, _running, _wait_ready
from tests.test_audit import AUDIT, PROC_MINFLT_PER_S, QUIET_VARS, wait_for_no_other_storm

pytestmark = pytest.mark.workload
TRIAGE = str(Path(__file__).resolve().parent.parent / "playbooks" / "triage.yml")
POD = "checkout-7d9f8c6b5-x2bq4"
LABEL = f"pod shop/{POD} container cart-api"


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(the pod container's memory cgroup, the runtime root with its containerd bundle)."""
    root = Path(tempfile.mkdtemp(prefix="pfdiag-oci-"))
    root.chmod(0o755)
    uid, cid = pod_uid(), container_id()
    containerd_bundle(root, cid, "shop", POD, "cart-api", uid)
    try:
        with workload_cgroup(kubepods_systemd_path(uid, cid)) as cgroup:
            yield cgroup, root
    finally:
        shutil.rmtree(root)


def run(capsys: Any, tmp_path: Path, root: Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    (tmp_path / "inv.ini").write_text(f"node1 ansible_connection=local pfdiag_oci_root={root}\n")
    argv = ["run", TRIAGE, "-i", str(tmp_path / "inv.ini"), "-e", "interval_s=1", "-o", str(tmp_path / "out")]
    code = main([*argv, "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "csv"), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, json.loads((tmp_path / "r.json").read_text())


def test_a_storm_in_a_pod_is_named_in_the_table_report_json_and_csv(
    minor_storm: Workload, pod: tuple[Path, Path], tmp_path: Path, capsys: Any
) -> None:
    cgroup, root = pod
    join(cgroup, minor_storm.pid)
    code, out, doc = run(capsys, tmp_path, root)
    assert code == 0, out
    host = doc["hosts"]["node1"]
    assert host["verdict"] == "minor-storm", host["summary"]
    culprit = next(c for c in host["culprits"] if c["pid"] == minor_storm.pid)
    assert culprit["workload"]["label"] == LABEL
    assert (culprit["workload"]["namespace"], culprit["workload"]["pod"]) == ("shop", POD)
    top = next(p for p in host["top_processes"] if p["pid"] == minor_storm.pid)
    assert top["workload"]["container"] == "cart-api"
    assert any(w["workload"]["label"] == LABEL for w in host["sample"]["workloads"])
    group = next(
        w for w in doc["summary"]["workloads"] if w["workload"] == "pod shop/checkout-* container cart-api"
    )
    assert (group["hosts"], group["culprit_hosts"]) == (1, 1) and group["minflt_per_s"] > 10_000
    # the terminal table's culprit cell says where it runs
    row = next(line for line in out.splitlines() if line.startswith("node1 "))
    assert f"in {LABEL}" in row, out
    report = (tmp_path / "out" / "report.md").read_text()
    workloads = report[report.index("## Workloads") :]
    assert "`pod shop/checkout-* container cart-api`" in workloads.split("\n## ")[0]
    with (tmp_path / "csv" / "processes.csv").open() as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    assert header[-7:] == [
        "workload",
        "workload_kind",
        "unit",
        "namespace",
        "pod",
        "container",
        "container_id",
    ]
    assert header[:2] == ["host", "group"]  # the documented columns stay where they were
    mine = next(r for r in rows if r["pid"] == str(minor_storm.pid))
    assert (mine["namespace"], mine["pod"], mine["container"], mine["culprit"]) == (
        "shop",
        POD,
        "cart-api",
        "true",
    )


def test_a_pod_whose_faulting_processes_exited_is_named_by_the_triage(
    pod: tuple[Path, Path], tmp_path: Path, capsys: Any
) -> None:
    """An exec'd process per 20 ms in the pod, reaped outside it (a runtime shim): no process of the pod
    lives across the samples, yet its memory cgroup counts every fault."""
    cgroup, root = pod
    stderr = tmp_path / "shim.stderr"
    argv = [
        sys.executable,
        str(WORKLOADS_DIR / "fork_storm.py"),
        "--name",
        "containerd-shim",
        "--seconds",
        "120",
    ]
    argv += ["--mb", "16", "--rate", "50", "--child-cgroup", str(cgroup)]
    with stderr.open("wb") as err:
        shim = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
    try:
        _wait_ready(shim, "fork_storm.py", stderr, lambda: "")
        code, out, doc = run(capsys, tmp_path, root, "-e", "workload_minflt_per_s=20000")
    finally:
        shim.kill()
        shim.wait()
        assert shim.stdout is not None
        shim.stdout.close()
    assert code == 0, out
    host = doc["hosts"]["node1"]
    check = next(f for f in host["findings"] if f["check"] == "workload-minor-rate")
    assert check["status"] == "fail", check
    assert (
        check["message"].startswith(f"{LABEL}: ") and "% of them by its listed processes" in check["message"]
    )
    assert host["verdict"] == "minor-storm"
    assert f"{LABEL} makes " in host["summary"], host["summary"]
    rated = next(w for w in host["sample"]["workloads"] if w["workload"]["label"] == LABEL)
    # a child alive at the second sample may be listed: its few faults explain almost none of them
    assert (rated["process_share_pct"] or 0) < 50 and rated["minflt_per_s"] > 20_000


def test_the_audit_problem_notification_and_textfile_name_the_pod(
    pod: tuple[Path, Path], tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """The problem is keyed by the top culprit's command: another storm on a shared machine would be
    the top one, so the test waits for none (as test_audit does) before starting its own."""
    cgroup, root = pod
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vars.yml").write_text(QUIET_VARS + f"pfdiag_oci_root: {root}\n")
    textfile = tmp_path / "pfdiag.prom"
    argv = ["audit", AUDIT, "-e", "@vars.yml", "--history", "h.sqlite", "--textfile", str(textfile)]
    wait_for_no_other_storm(PROC_MINFLT_PER_S)
    with _running("minor_storm.py", "minor-storm", "pf pod storm", "--mb", "64") as storm:
        join(cgroup, storm.pid)
        code = main([*argv, "--notify", f"cat > {tmp_path}/payload.json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and code in (0, 10), out
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        summaries = [row[0] for row in db.execute("SELECT summary FROM problems WHERE code = 'minor-storm'")]
    assert summaries and summaries[0].endswith(f"({storm.comm} in {LABEL})"), summaries
    payload = json.loads((tmp_path / "payload.json").read_text())
    assert any(LABEL in p["summary"] for p in payload["new"]), payload["new"]
    metrics = textfile.read_text()
    series = [
        line for line in metrics.splitlines() if line.startswith("pfdiag_workload_minor_faults_per_second{")
    ]
    assert any(
        f'pod="{POD}"' in s and 'namespace="shop"' in s and 'container="cart-api"' in s for s in series
    )
    assert len(series) <= 3


@pytest.mark.ssh
def test_over_ssh_the_triage_names_the_pod_with_the_host_variable_for_the_runtime_root(
    ssh_fleet: Any, minor_storm: Workload, pod: tuple[Path, Path], tmp_path: Path, capsys: Any
) -> None:
    from tests.test_fleet import ssh_options

    cgroup, root = pod
    join(cgroup, minor_storm.pid)
    name = ssh_fleet.healthy[0]
    pairs = " ".join(f"{k}={v}" for k, v in ssh_fleet.hosts[name].items())
    (tmp_path / "inv.ini").write_text(f"{name} {pairs} pfdiag_oci_root={root}\n")
    argv = ["run", TRIAGE, "-i", str(tmp_path / "inv.ini"), "-e", "interval_s=1", "-o", str(tmp_path / "out")]
    code = main([*argv, "--json", str(tmp_path / "r.json"), *ssh_options(ssh_fleet)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and code == 0, out + err
    host = json.loads((tmp_path / "r.json").read_text())["hosts"][name]
    assert host["status"] == "ok" and host["verdict"] == "minor-storm", host["reason"] or host["summary"]
    culprit = next(c for c in host["culprits"] if c["pid"] == minor_storm.pid)
    assert culprit["workload"]["label"] == LABEL
    assert f"in {LABEL}" in next(line for line in out.splitlines() if line.startswith(f"{name} "))
