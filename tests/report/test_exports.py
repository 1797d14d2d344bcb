"""Exports and files: JSON shape, the three CSVs, the charts, and the CLI options that write them."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from diag.cli import main
from diag.report import write_reports
from diag.report.csv_export import FINDINGS_CSV, HOSTS_CSV, PROCESSES_CSV
from diag.report.files import run_to_json
from tests.report.fleets import RUNS, mixed_fleet

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_json_keeps_documented_keys_and_adds_fleet_data() -> None:
    run = mixed_fleet()
    doc = json.loads(json.dumps(run_to_json(run), default=str))
    assert set(doc) == {"schema", "run", "summary", "hosts"}
    assert {"hosts", "states", "verdicts", "rates", "outliers", "culprits"} <= set(doc["summary"])
    web07 = doc["hosts"]["web07"]
    assert (web07["status"], web07["verdict"]) == ("ok", "minor-storm")
    assert web07["findings"] and web07["rates"]["minflt_per_s"] > 50_000
    assert {"pid", "comm", "minflt_per_s", "majflt_per_s"} <= set(web07["top_processes"][0])
    assert web07["fleet"]["outlier"] is True and web07["fleet"]["peers"] == "group web"
    assert [o["host"] for o in doc["summary"]["outliers"]][:1] == ["web07"]


def test_write_reports_writes_csvs_and_linked_charts(tmp_path: Path) -> None:
    run = mixed_fleet()
    written = write_reports(
        run, tmp_path / "run", json_path=tmp_path / "r.json", csv_dir=tmp_path / "csv", plots=True
    )
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert names == {"run/report.md", "r.json", "csv/hosts.csv", "csv/processes.csv", "csv/findings.csv",
                     "run/plots/fault-rates.png", "run/plots/top-hosts.png"}  # fmt: skip
    report = (tmp_path / "run" / "report.md").read_text()
    for png in ("fault-rates.png", "top-hosts.png"):
        data = (tmp_path / "run" / "plots" / png).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
        assert f"](plots/{png})" in report
    hosts = _rows((tmp_path / "csv" / "hosts.csv").read_text())
    assert list(hosts[0]) == HOSTS_CSV and len(hosts) == len(run.hosts)
    assert {r["host"]: r["outlier"] for r in hosts}["web07"] == "true"
    processes = _rows((tmp_path / "csv" / "processes.csv").read_text())
    assert list(processes[0]) == PROCESSES_CSV
    assert any(r["comm"] == "java" and r["culprit"] == "true" and r["host"] == "web07" for r in processes)
    findings = _rows((tmp_path / "csv" / "findings.csv").read_text())
    assert list(findings[0]) == FINDINGS_CSV
    assert {r["check"] for r in findings if r["host"] == "db02" and r["status"] == "fail"} >= {"swap-in"}


def test_cli_report_csv_prints_hosts_csv_or_writes_all_three(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = RUNS / "ssh-failures"
    assert main(["report", str(run_dir), "--format", "csv"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert {r["host"]: r["state"] for r in rows}["badauth"] == "auth-failed"
    assert main(["report", str(run_dir), "--format", "csv", "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "findings.csv",
        "hosts.csv",
        "processes.csv",
    ]


def test_cli_report_md_and_json_rerender_a_saved_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(RUNS / "major-swap", run_dir)
    assert main(["report", str(run_dir), "-o", str(tmp_path / "r.md")]) == 0
    assert "**5 of 5 hosts have a page-fault problem:** 5 major-swap" in (tmp_path / "r.md").read_text()
    assert main(["report", str(run_dir), "--format", "json", "-o", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["verdicts"] == {"major-swap": 5}


def test_cli_run_writes_csv_and_plots_for_a_real_local_run(tmp_path: Path) -> None:
    playbook = str(ROOT / "playbooks" / "triage.yml")
    argv = ["run", playbook, "-e", "interval_s=0.5", "-o", str(tmp_path / "run"),
            "--csv", str(tmp_path / "csv"), "--plots", "--json", str(tmp_path / "r.json")]  # fmt: skip
    assert main(argv) in (0, 10)
    assert (tmp_path / "run" / "plots" / "fault-rates.png").read_bytes().startswith(PNG)
    assert "](plots/top-hosts.png)" in (tmp_path / "run" / "report.md").read_text()
    hosts = _rows((tmp_path / "csv" / "hosts.csv").read_text())
    assert [(r["host"], r["group"], r["state"]) for r in hosts] == [("localhost", "all", "ok")]
    assert json.loads((tmp_path / "r.json").read_text())["hosts"]["localhost"]["fleet"]["group"] == "all"
