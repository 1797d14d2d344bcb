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


def test_a_run_holding_its_hosts_in_brief_writes_the_exports_the_whole_results_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON and processes.csv of a run over 100 hosts are written a host at a time, each host read
    back from hosts.jsonl: the bytes are those of the whole document and of the whole process frame
    (every recorded run's hosts, so a column with a gap on one host is typed as in the whole file)."""
    from diag.fleet import build_fleet
    from diag.report.csv_export import render_csvs
    from diag.runs.store import load_run
    from diag.shared.files import json_text

    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(RUNS / "quiet" / "run.json", source / "run.json")
    lines = [
        json.loads(line)
        for folder in ("quiet", "major-swap", "major-file", "minor-storm", "ssh-failures")
        for line in (RUNS / folder / "hosts.jsonl").read_text().splitlines()
    ]
    with (source / "hosts.jsonl").open("w") as out:
        for i in range(120):
            entry = lines[i % len(lines)]
            name = f"h{i:03d}-{entry['host']}"
            out.write(json.dumps({**entry, "host": name, "result": {**entry["result"], "host": name}}) + "\n")
    from diag.report import csv_export

    monkeypatch.setattr(csv_export, "CSV_SLICE_HOSTS", 7)  # slices of processes.csv, the last one short
    triage = str(ROOT / "playbooks" / "triage.yml")
    argv = ["run", triage, "--replay", str(source), "-o", str(tmp_path / "run")]
    assert main([*argv, "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "csv")]) in (0, 2, 4)

    whole = load_run(tmp_path / "run")  # every host whole, put back in the run's order
    order = json.loads((tmp_path / "run" / "run.json").read_text())["planned_hosts"]
    whole.hosts.sort(key=lambda h: order.index(h.host))
    assert (tmp_path / "r.json").read_text() == json_text(run_to_json(whole)) + "\n"
    texts = render_csvs(build_fleet(whole))  # hosts.csv: a run's own has elapsed_s unrounded
    for name in ("processes.csv", "findings.csv"):
        assert (tmp_path / "csv" / name).read_text() == texts[name], name
        assert len(_rows(texts[name])) > 120  # several a host
