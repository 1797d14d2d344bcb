"""The history keeps each audit in one transaction and diffs it against the previous complete audit
of the same scope: new, persisting (first seen, audits in a row), resolved, unknown (never resolved)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diag.findings import Culprit, Finding, HostResult, RunResult, Verdict
from diag.history.diff import diff_problems
from diag.history.store import History
from diag.runs.store import make_run_dir
from diag.shared.units import now_stamp

SCOPE = '{"playbook": "audit.yml", "inventory": ["fleet"], "limit": null}'


def storm(host: str, comm: str = "java", pid: int = 7) -> HostResult:
    culprit = Culprit(pid, comm, 50_000.0, 0.0)
    return HostResult(host, verdict=Verdict("minor-storm", "warning", "storm", (culprit,)))


def quiet(host: str) -> HostResult:
    return HostResult(host, verdict=Verdict("ok", "ok", "quiet"))


def audit(history: History, *hosts: HostResult, scope: str = SCOPE, interrupted: bool = False):
    run = RunResult("audit.yml", ["fleet"], None, now_stamp(), finished=now_stamp(), hosts=list(hosts))
    run.interrupted = interrupted
    run_id = history.begin(scope, "audit.yml", ["fleet"], None, "")
    return history.record(run_id, run, scope, lambda before: diff_problems(before, run.hosts, now_stamp()))


def keys(problems) -> list[tuple[str, str, str]]:
    return sorted(p.key for p in problems)


def test_quiet_storm_quiet_gives_new_then_persisting_then_resolved(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        assert not audit(history, quiet("a"), quiet("b")).diff.open
        first = audit(history, storm("a"), quiet("b")).diff
        assert keys(first.new) == [("a", "minor-storm", "java")]
        second = audit(history, storm("a", pid=99), quiet("b")).diff  # restarted: new pid, same problem
        [still] = second.persisting
        assert (still.key, still.streak, still.first_seen) == (first.new[0].key, 2, first.new[0].first_seen)
        third = audit(history, quiet("a"), quiet("b")).diff
        assert keys(third.resolved) == [("a", "minor-storm", "java")] and not third.open


def test_an_unreachable_host_leaves_its_problems_unknown_never_resolved(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        audit(history, storm("a"))
        gone = audit(history, HostResult("a", status="unreachable", reason="refused")).diff
        assert keys(gone.unknown) == [("a", "minor-storm", "java")] and not gone.resolved
        back = audit(history, storm("a")).diff  # still the same problem, first seen two audits ago
        assert keys(back.persisting) == [("a", "minor-storm", "java")] and back.persisting[0].streak == 2


def test_a_skipped_check_is_unknown_and_a_passing_one_resolved(tmp_path: Path) -> None:
    def with_check(status: str) -> HostResult:
        host = quiet("a")
        host.findings.append(Finding("mlock-host", "t", status, "warning", "m", 60.0, ">=", 50.0))
        return host

    with History(tmp_path / "h.sqlite") as history:
        assert keys(audit(history, with_check("fail")).diff.new) == [("a", "mlock-host", "")]
        assert keys(audit(history, with_check("skip")).diff.unknown) == [("a", "mlock-host", "")]
        assert keys(audit(history, with_check("pass")).diff.resolved) == [("a", "mlock-host", "")]


def test_a_check_whose_branch_is_not_taken_any_more_is_resolved(tmp_path: Path) -> None:
    before = storm("a")
    before.findings.append(Finding("swap-in", "t", "fail", "critical", "swapping"))
    with History(tmp_path / "h.sqlite") as history:
        audit(history, before)
        now = audit(history, quiet("a")).diff  # quiet: the swap-in check (when: majors) did not run
        assert keys(now.resolved) == [("a", "minor-storm", "java"), ("a", "swap-in", "")]
        assert history.diff_runs(1, 2).counts() == now.counts()


def test_info_checks_are_context_not_problems(tmp_path: Path) -> None:
    host = quiet("a")
    host.findings.append(Finding("swap-configured", "t", "fail", "info", "no swap"))
    with History(tmp_path / "h.sqlite") as history:
        assert not audit(history, host).diff.open


def test_audits_of_another_scope_or_incomplete_ones_are_not_the_baseline(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        audit(history, storm("a"))
        other = audit(history, quiet("a"), scope='{"other": 1}')
        assert other.baseline_id is None
        audit(history, quiet("a"), interrupted=True)
        again = audit(history, storm("a"))
        assert again.baseline_id == 1 and keys(again.diff.persisting) == [("a", "minor-storm", "java")]
        runs = {r.id: r for r in history.runs()}
        assert runs[3].complete is False and runs[3].interrupted is True


def test_a_crash_inside_the_write_leaves_nothing_half_written(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        run = RunResult("audit.yml", [], None, now_stamp(), hosts=[storm("a")])
        run_id = history.begin(SCOPE, "audit.yml", [], None, "")

        def crash(before):
            raise RuntimeError("killed mid-write")

        with pytest.raises(RuntimeError):
            history.record(run_id, run, SCOPE, crash)
        assert history.runs()[0].complete is False
        db = history.db
        assert db.execute("SELECT count(*) FROM host_results").fetchone()[0] == 0
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_history_is_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    History(tmp_path / "h.sqlite").close()
    db = sqlite3.connect(tmp_path / "h.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_retention_prunes_old_and_surplus_audits_with_their_rows_and_run_folders(tmp_path: Path) -> None:
    folders = []
    with History(tmp_path / "h.sqlite") as history:
        for n in range(4):
            folder = make_run_dir(tmp_path / f"run{n}", tmp_path, "audit")  # pfdiag's, and marked so
            (folder / "run.json").write_text("{}")
            folders.append(folder)
            run_id = history.begin(SCOPE, "audit.yml", [], None, str(folder))
            run = RunResult("audit.yml", [], None, now_stamp(), hosts=[storm("a")], run_dir=str(folder))
            history.record(
                run_id, run, SCOPE, lambda before: diff_problems(before, [storm("a")], now_stamp())
            )
        history.db.execute("UPDATE runs SET started_ts = ? WHERE id = 1", (time.time() - 20 * 86400,))
        assert list(history.prune(SCOPE, keep_days=14, keep_runs=None).run_ids) == [1]
        assert list(history.prune(SCOPE, keep_days=14, keep_runs=2).run_ids) == [2]
        assert [r.id for r in history.runs()] == [4, 3]
        assert [f.exists() for f in folders] == [False, False, True, True]
        assert history.db.execute("SELECT count(*) FROM problems WHERE run_id < 3").fetchone()[0] == 0


def test_history_diff_of_two_stored_audits_matches_the_recorded_diff(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        audit(history, storm("a"), storm("b"))
        recorded = audit(history, quiet("a"), HostResult("b", status="timeout")).diff
        stored = history.diff_runs(1, 2)
        expected = {"new": 0, "persisting": 0, "resolved": 1, "unknown": 1}
        assert stored.counts() == recorded.counts() == expected
        assert history.latest_pair() == (1, 2)


def test_pruning_keeps_a_run_folder_that_a_kept_audit_still_uses(tmp_path: Path) -> None:
    folder = tmp_path / "latest"  # a timer with the same -o DIR every time
    folder.mkdir()
    (folder / "run.json").write_text("{}")
    with History(tmp_path / "h.sqlite") as history:
        for n in range(3):
            run_id = history.begin(SCOPE, "audit.yml", [], None, f"{folder}-{n}")
            run = RunResult("audit.yml", [], None, now_stamp(), hosts=[quiet("a")], run_dir=f"{folder}-{n}")
            history.record(
                run_id, run, SCOPE, lambda before: diff_problems(before, [quiet("a")], now_stamp())
            )
        # a history written before -o was refused for a second audit: all three rows name one folder
        history.db.execute("UPDATE runs SET run_dir = ?", (str(folder),))
        assert list(history.prune(SCOPE, keep_days=None, keep_runs=1).run_ids) == [1, 2]
    assert (folder / "run.json").exists()


def test_a_new_history_and_its_wal_files_are_0600_like_the_run_folders(tmp_path: Path) -> None:
    """It holds the same hosts, processes and command lines as the run folders (it was 0644)."""
    path = tmp_path / "new" / "history.sqlite"
    with History(path) as history:
        history.begin("scope", "audit.yml", [], None, str(tmp_path / "run"))
        files = sorted(tmp_path.joinpath("new").iterdir())
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    assert modes == {"history.sqlite": 0o600, "history.sqlite-shm": 0o600, "history.sqlite-wal": 0o600}


def test_two_audits_opening_a_new_history_at_the_same_instant_both_open_it(tmp_path: Path) -> None:
    """SQLite refuses the switch to WAL at once ("database is locked", no busy wait) while another
    connection holds the file: one of two audits starting together failed, 5 times in 6."""
    opener = (
        "import sys, time\nfrom pathlib import Path\nfrom diag.history.store import History\n"
        "start = float(sys.argv[2])\nwhile time.time() < start: pass\n"
        "History(Path(sys.argv[1])).close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for attempt in range(5):
        path, start = tmp_path / f"h{attempt}.sqlite", f"{time.time() + 1.0}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", opener, str(path), start], stderr=subprocess.PIPE, env=env
            )
            for _ in range(2)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()
