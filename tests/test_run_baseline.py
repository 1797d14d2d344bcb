"""``pfdiag run`` and ``pfdiag watch`` against the host's own audits, for real: audits recorded by the
real ``pfdiag audit`` on this machine, then runs with a real workload.

A host whose audits ran a storm is "usual for this host" when it storms again (a verdict says what
the faults cost; the baseline says whether that is new); a host whose audits were quiet is "N x its
usual minor/s" in a storm; a host the history does not know has no history; a missing history is said
once, a foreign one is a warning; and neither ``run`` nor ``watch`` changes the history file.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from diag.history.baseline import MIN_AUDITS
from tests.fixtures.ssh_argv import ssh_options
from tests.fixtures.sshd_fleet import Fleet
from tests.fixtures.terminal import on_a_terminal
from tests.fixtures.workloads import MINOR_STORM_NAME, Workload, _running
from tests.history.test_baseline import recorded
from tests.test_audit import PROC_MINFLT_PER_S, wait_for_no_other_storm

REPO = Path(__file__).resolve().parent.parent
BASELINE_KEYS = {"status", "audits", "days", "minflt_per_s", "majflt_per_s", "ratio", "summary", "label"}


def record_audits(capsys: Any, *extra: str) -> None:
    for _ in range(MIN_AUDITS):
        assert main(["audit", "-e", "interval_s=1", *extra]) == 0, capsys.readouterr()
    capsys.readouterr()


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(["run", "triage", "-e", "interval_s=1", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def state(path: Path) -> tuple[str, int]:
    """The history's bytes and its number of audits (read-only)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        audits = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    return hashlib.sha256(path.read_bytes()).hexdigest(), audits


@pytest.mark.workload
def test_a_host_storming_as_in_its_audits_is_usual_for_this_host_in_run_and_watch(
    minor_storm: Workload, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PFDIAG_HISTORY", raising=False)
    record_audits(capsys)
    history = tmp_path / "reports" / "history.sqlite"  # the audit's default, which run reads too
    before = state(history)

    code, out, _ = run(capsys, "--json", "run.json", "-o", "run")
    host = json.loads((tmp_path / "run.json").read_text())["hosts"]["localhost"]
    assert code == 0 and host["verdict"] == "minor-storm"  # what it costs is the verdict's business
    assert set(host["baseline"]) == BASELINE_KEYS
    assert (host["baseline"]["status"], host["baseline"]["audits"], host["baseline"]["days"]) == (
        "usual",
        MIN_AUDITS,
        14.0,
    ), host["baseline"]
    assert set(host["baseline"]["minflt_per_s"]) == {"median", "p95", "now", "ratio", "usual"}
    assert re.search(r"^localhost .* usual for this host$", out, re.M), out
    assert f"baseline: compared with {history}: 1 of 1 host with {MIN_AUDITS} or more audits" in out
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Against its own audits: usual for this host (minor/s median " in report
    assert f"over {MIN_AUDITS} audits in 14 days)." in report

    assert main(["watch", "--every", "0.5", "--count", "3", "-o", "watch"]) == 0
    out, _ = capsys.readouterr()
    line = "BASELINE localhost: usual minor/s median "
    assert line in out and f"over {MIN_AUDITS} audits in 14 days" in out, out
    events = [json.loads(x) for x in (tmp_path / "watch" / "events.jsonl").read_text().splitlines()]
    samples = [e for e in events if e["type"] == "sample"]
    assert samples and all(e.get("vs_usual") for e in samples)
    assert "usual for this host" in {e["vs_usual"] for e in samples}, samples

    code, out, _ = run(capsys, "--baseline-days", "0.00001", "-o", "narrow")
    assert code == 0 and "no history" in out
    report = (tmp_path / "narrow" / "report.md").read_text()
    assert (
        "Against its own audits: no history for this host (no audit of it in the last 1e-05 days)." in report
    )
    assert state(history) == before  # run and watch only read it


@pytest.mark.workload
def test_a_storm_on_a_host_whose_audits_were_quiet_is_n_times_its_usual_and_a_new_host_has_no_history(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PFDIAG_HISTORY", str(tmp_path / "audits.sqlite"))
    for _ in range(MIN_AUDITS):
        wait_for_no_other_storm(PROC_MINFLT_PER_S)  # quiet audits: the host's usual is quiet
        assert main(["audit", "-e", "interval_s=1"]) == 0, capsys.readouterr()
    capsys.readouterr()
    inventory = tmp_path / "inv.ini"
    inventory.write_text("localhost ansible_connection=local\nnewcomer ansible_connection=local\n")

    wait_for_no_other_storm(PROC_MINFLT_PER_S)
    with _running("minor_storm.py", "minor-storm", MINOR_STORM_NAME, "--mb", "64"):
        code, out, _ = run(capsys, "-i", str(inventory), "--json", "run.json", "-o", "run")
    hosts = json.loads((tmp_path / "run.json").read_text())["hosts"]
    assert code == 0
    storm = hosts["localhost"]["baseline"]
    assert storm["status"] == "above" and storm["audits"] == MIN_AUDITS, storm
    assert storm["ratio"] > 2 and storm["minflt_per_s"]["usual"] is False
    assert re.fullmatch(
        rf"[\d,.]+x its usual minor/s \(median [\d,.]+ over {MIN_AUDITS} audits\)", storm["summary"]
    )
    assert f"  localhost: {storm['summary']}" in out, out
    assert hosts["newcomer"]["baseline"]["status"] == "no-history"
    assert re.search(r"^newcomer .* no history$", out, re.M), out
    report = (tmp_path / "run" / "report.md").read_text()
    headline = report.split("\n")[2]
    assert f"localhost: {storm['summary']}" in headline and "1 no history (newcomer)" in headline


@pytest.mark.ssh
@pytest.mark.workload
def test_over_ssh_each_host_is_compared_with_its_own_audits_and_a_host_never_audited_has_no_history(
    ssh_fleet: Fleet, minor_storm: Workload, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PFDIAG_HISTORY", raising=False)
    inventory = str(ssh_fleet.write_inventory(tmp_path / "inv.ini"))
    audited, fresh = ssh_fleet.healthy[0], ssh_fleet.healthy[1]
    record_audits(capsys, "-i", inventory, "-l", audited, "--history", "h.sqlite", *ssh_options(ssh_fleet, 3))

    code, out, _ = run(
        capsys,
        *("-i", inventory, "-l", f"{audited}:{fresh}", "--history", "h.sqlite", "--json", "run.json"),
        *ssh_options(ssh_fleet, 3),
    )
    hosts = json.loads((tmp_path / "run.json").read_text())["hosts"]
    assert code == 0
    assert hosts[audited]["baseline"]["status"] == "usual", hosts[audited]["baseline"]  # it stormed then too
    assert hosts[audited]["baseline"]["audits"] == MIN_AUDITS
    assert (
        hosts[fresh]["baseline"]["summary"] == "no history for this host (no audit of it in the last 14 days)"
    )
    assert re.search(rf"^{audited} .* usual for this host$", out, re.M), out
    assert re.search(rf"^{fresh} .* no history$", out, re.M), out


def test_a_run_without_a_history_says_so_once_and_a_foreign_one_is_a_warning_not_a_failure(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PFDIAG_HISTORY", raising=False)
    code, out, err = run(capsys, "--json", "none.json", "-o", "none")
    assert code == 0 and not err.strip(), err
    assert out.count("no history") == 1 and "(`pfdiag audit` records one)" in out  # once, not per host
    assert "vs. its audits" not in out
    doc = json.loads((tmp_path / "none.json").read_text())
    assert doc["hosts"]["localhost"]["baseline"] is None
    assert doc["run"]["history_note"].startswith(f"no history: nothing at {tmp_path / 'reports'}")
    assert not (tmp_path / "reports" / "history.sqlite").exists()  # a run never creates one

    foreign = tmp_path / "notes.sqlite"
    foreign.write_text("these are my notes, not a database\n" * 40)
    before = foreign.read_bytes()
    code, out, err = run(capsys, "--history", str(foreign), "--json", "foreign.json", "-o", "foreign")
    assert code == 0
    assert f"[WARNING]: '{foreign}' is not a pfdiag audit history (file is not a database)" in err
    assert "hint: the run goes on without baselines" in err
    assert json.loads((tmp_path / "foreign.json").read_text())["hosts"]["localhost"]["baseline"] is None
    assert foreign.read_bytes() == before

    for bad in ("0", "nan", "-3"):
        assert main(["run", "triage", "--baseline-days", bad]) == 5
        assert "--baseline-days must be a finite number > 0" in capsys.readouterr().err


def test_on_a_terminal_the_watch_shows_each_host_against_its_usual_in_the_live_table(tmp_path: Path) -> None:
    history = recorded(tmp_path / "h.sqlite", [3000.0] * MIN_AUDITS, host="localhost")
    before = state(history)
    argv = ["watch", "--every", "0.3", "--count", "4", "--history", str(history), "-o", str(tmp_path / "run")]
    code, text = on_a_terminal(tmp_path, *argv, columns=120)
    assert code == 0
    last = text.rsplit("\x1b[H\x1b[2J", 1)[1]
    row = r"localhost\s+-\s+\(host\)\s+[\d,.]+\s+[\d,.]+\s+.*(usual for this host|[\d,.]+x usual m\w+/s)"
    assert re.search(row, last), last
    said = (
        "BASELINE localhost: usual minor/s median 3,000, p95 3,000; major/s median 0.2, p95 0.2 over 5 audits"
    )
    assert said in text  # among the recent events under the table, until later ones push it out
    assert state(history) == before
