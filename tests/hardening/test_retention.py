"""Audit retention and run folders (issue 15): pruning removes only what pfdiag made and can prove it
made, never an unfinished audit or a scope's baseline; ``-o`` refuses someone else's folder and another
audit's; same-scope audits at once diff against the one recorded before; history options are bounded;
``--replay`` is not audited. Real audits of this machine, real folders, a loopback webhook.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from diag.history.store import History
from tests.fixtures.webhook import webhook_receiver
from tests.test_audit import PROC_MINFLT_PER_S, QUIET_VARS, _audit_process, history_rows

FAST = ("-e", "interval_s=0.5")


@pytest.fixture(autouse=True)
def no_env_history(monkeypatch: Any) -> None:
    monkeypatch.delenv("PFDIAG_HISTORY", raising=False)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _quiet(tmp_path: Path) -> tuple[str, str]:
    """``-e @quiet.yml``: no threshold this shared machine's neighbours can reach (interval left to -e)."""
    text = QUIET_VARS.replace("interval_s: 1\n", "")
    text = text.replace(f"proc_minflt_per_s: {PROC_MINFLT_PER_S}", "proc_minflt_per_s: 1000000000")
    (tmp_path / "quiet.yml").write_text(text)
    return ("-e", "@quiet.yml")


def _srv(tmp_path: Path) -> Path:
    """A working folder: an inventory, a playbook, and the history of an earlier audit."""
    srv = tmp_path / "srv"
    (srv / "playbooks").mkdir(parents=True)
    (srv / "inventory").write_text("localhost\n")
    (srv / "playbooks" / "site.yml").write_text("- hosts: all\n  tasks: []\n")
    return srv


# -- 1. pruning deletes only what pfdiag made ------------------------------------------------------


def test_audit_o_dot_in_a_working_folder_is_refused_and_a_later_pruning_keeps_it(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    srv = _srv(tmp_path)
    monkeypatch.chdir(srv)
    assert main(["audit", *FAST]) in (0, 10)  # reports/history.sqlite, reports/<time>-audit/
    before = _tree(srv)
    capsys.readouterr()
    assert main(["audit", *FAST, "-o", "."]) == 5
    err = capsys.readouterr().err
    assert err.startswith("ERROR:") and "holds other files (inventory, playbooks, reports)" in err
    assert main(["audit", *FAST, "-o", "reports"]) == 5  # not a run folder, and the history is in it
    assert "holds other files (20" in capsys.readouterr().err
    assert _tree(srv) == before  # nothing written, nothing recorded
    assert main(["audit", *FAST, "--keep-runs", "1"]) in (0, 10)
    assert (srv / "inventory").read_text() == "localhost\n" and (srv / "playbooks" / "site.yml").exists()
    assert [r[0] for r in history_rows(srv / "reports" / "history.sqlite", "SELECT id FROM runs")] == [2]


def test_o_naming_a_folder_of_other_files_is_refused_by_run_and_audit_alike(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine\n")
    (precious / "report.md").write_text("my own report\n")
    for argv in (["run", "triage.yml"], ["audit", "--history", "h.sqlite"]):
        assert main([*argv, *FAST, "-o", "precious"]) == 5
        err = capsys.readouterr().err
        assert "is not a pfdiag run folder and holds other files (notes.txt)" in err, err
        assert "new or empty folder" in err and "Traceback" not in err
    assert _tree(precious) == {"notes.txt": b"mine\n", "report.md": b"my own report\n"}
    assert not (tmp_path / "h.sqlite").exists()


def test_o_may_name_a_new_or_empty_folder_or_a_run_folder_again(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert main(["run", "triage.yml", *FAST, "-o", "empty"]) in (0, 10)
    assert main(["run", "triage.yml", *FAST, "-o", "empty"]) in (0, 10)  # its own run folder: reused
    legacy = tmp_path / "legacy"  # written before the marker: only a run folder's files
    assert main(["run", "triage.yml", *FAST, "-o", "legacy"]) in (0, 10)
    (legacy / ".pfdiag-run").unlink()
    assert main(["run", "triage.yml", *FAST, "-o", "legacy"]) in (0, 10)
    assert {p.name for p in (tmp_path / "empty").iterdir()} == {
        ".pfdiag-run",
        "run.json",
        "hosts.jsonl",
        "report.md",
    }
    # an audit's run folder never holds its history (the folder is pruned with the audit)
    capsys.readouterr()
    assert main(["audit", *FAST, "-o", "empty", "--history", "empty/h.sqlite"]) == 5
    assert "would be inside the run folder -o" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "h.sqlite").exists()


def test_pruning_removes_only_pfdiags_files_and_never_a_folder_holding_other_files(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    given, shared = tmp_path / "given", tmp_path / "shared"
    given.mkdir()  # an empty folder the user made: pfdiag's files go, the folder stays
    history = ["--history", "h.sqlite"]
    assert main(["audit", *FAST, *history, "-o", "given"]) in (0, 10)
    assert main(["audit", *FAST, *history, "-o", "shared"]) in (0, 10)
    (shared / "notes.txt").write_text("added later\n")
    shared_files = _tree(shared)
    capsys.readouterr()
    assert main(["audit", *FAST, *history, "--keep-runs", "1"]) in (0, 10)
    out, err = capsys.readouterr()
    assert "pruned 2 old audit(s): 1, 2" in out
    assert given.is_dir() and not list(given.iterdir())
    assert _tree(shared) == shared_files  # whole: it holds a file pfdiag did not write
    assert f"run folder '{shared}' stays: it holds files pfdiag did not write (notes.txt)" in err


def test_pruning_leaves_unmarked_folders_and_the_folder_of_the_history(tmp_path: Path) -> None:
    """Rows an older pfdiag wrote: one names the folder holding the history (`-o .`), one a run folder
    without the marker; pruning drops the rows and leaves both folders as they are."""
    srv = _srv(tmp_path)
    old = tmp_path / "old-run"
    old.mkdir()
    (old / "run.json").write_text("{}")
    with History(srv / "reports" / "history.sqlite") as history:
        for folder in (srv, old):
            history.db.execute(
                "INSERT INTO runs (started, started_ts, finished, duration_s, scope, run_dir, complete)"
                " VALUES ('t', ?, 't', 1, 's', ?, 1)",
                (time.time() - 30 * 86400, str(folder)),
            )
        history.db.execute(
            "INSERT INTO runs (started, started_ts, finished, duration_s, scope, run_dir, complete)"
            " VALUES ('t', ?, 't', 1, 's', '', 1)",
            (time.time(),),
        )
        pruned = history.prune("s", keep_days=14, keep_runs=None)
    assert pruned.run_ids == (1, 2)
    assert (srv / "inventory").exists() and (srv / "reports" / "history.sqlite").exists()
    assert (old / "run.json").exists() and len(pruned.kept_folders) == 2
    assert all("no .pfdiag-run marker" in reason for reason in pruned.kept_folders)


def test_reusing_an_audits_o_is_refused_and_leaves_its_folder_as_it_was(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", *FAST, "--history", "h.sqlite", "-o", "out"]) in (0, 10)
    before = _tree(tmp_path / "out")
    capsys.readouterr()
    assert main(["audit", *FAST, "--history", "h.sqlite", "-o", str(tmp_path / "out")]) == 5
    err = capsys.readouterr().err
    assert f"-o '{tmp_path / 'out'}' is the run folder of audit #1" in err and "Traceback" not in err
    assert _tree(tmp_path / "out") == before
    assert history_rows(tmp_path / "h.sqlite", "SELECT id, complete FROM runs") == [(1, 1)]


def test_a_scheduled_audit_cannot_have_o(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--print-cron", "-o", "out"]) == 5
    assert "-o cannot be scheduled" in capsys.readouterr().err
    argv = ["audit", "--install-timer", "t", "--unit-dir", str(tmp_path / "units"), "-o", "out"]
    assert main(argv) == 5
    assert not (tmp_path / "units").exists()


# -- 2. concurrent audits ------------------------------------------------------------------------


def _wait_for_rows(history: Path, count: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if history.exists() and history_rows(history, "SELECT count(*) FROM runs")[0][0] >= count:
                return
        except sqlite3.OperationalError:  # created, its tables not yet
            pass
        time.sleep(0.05)  # polling for the slow audit's begin() row
    pytest.fail(f"the slow audit never began: {proc.communicate()}")


def test_keep_runs_1_leaves_an_audit_in_flight_alone_and_that_audit_notifies(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    with webhook_receiver() as receiver:
        # the slow audit finds something (a threshold of 0): its notification has something to say
        slow = _audit_process(
            tmp_path,
            history,
            "-e",
            "interval_s=6",
            "-e",
            "host_minflt_per_s=0",
            "--notify-url",
            receiver.url,
            "-o",
            "slow",
        )
        _wait_for_rows(history, 1, slow)
        quick = _audit_process(tmp_path, history, *_quiet(tmp_path), "--keep-runs", "1", "-o", "quick")
        _, quick_err = quick.communicate(timeout=120)
        assert quick.returncode in (0, 10), quick_err.decode()
        assert slow.poll() is None, "the quick audit must prune while the slow one runs"
        out, err = slow.communicate(timeout=120)
    assert slow.returncode in (0, 10), err.decode()
    assert b"FOREIGN KEY" not in err and b"Traceback" not in err
    assert history_rows(history, "SELECT id, complete FROM runs ORDER BY id") == [(1, 1), (2, 1)]
    assert (tmp_path / "slow" / "hosts.jsonl").exists() and (tmp_path / "slow" / "diff.json").exists()
    assert len(receiver.bodies) == 1 and receiver.bodies[0]["new"], out.decode()


def test_keep_runs_counts_per_scope_and_keeps_every_scopes_baseline(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    history = ["--history", "h.sqlite"]
    assert main(["audit", *FAST, *history]) in (0, 10)  # scope: this machine, no -l
    assert main(["audit", *FAST, *history, "-l", "localhost", "--keep-runs", "1"]) in (0, 10)
    assert main(["audit", *FAST, *history, "-l", "localhost", "--keep-runs", "1"]) in (0, 10)
    assert main(["audit", *FAST, *history]) in (0, 10)
    out = capsys.readouterr().out
    assert "pruned 1 old audit(s): 2" in out and "since the last audit (#1, " in out
    rows = history_rows(tmp_path / "h.sqlite", "SELECT id, baseline_id FROM runs ORDER BY id")
    assert rows == [(1, None), (3, 2), (4, 1)]


def test_keep_days_never_prunes_the_last_complete_audit_of_a_scope(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        for scope, age_days in (("a", 40), ("a", 30), ("b", 30)):
            history.db.execute(
                "INSERT INTO runs (started, started_ts, finished, duration_s, scope, run_dir, complete)"
                " VALUES ('t', ?, 't', 1, ?, '', 1)",
                (time.time() - age_days * 86400, scope),
            )
        history.db.execute(  # killed long ago: unfinished, so never pruned (it may be running)
            "INSERT INTO runs (started, started_ts, scope, run_dir) VALUES ('t', ?, 'a', '')",
            (time.time() - 50 * 86400,),
        )
        assert history.prune("a", keep_days=14, keep_runs=1).run_ids == (1,)
        assert [r.id for r in history.runs()] == [4, 3, 2]


def test_same_scope_audits_at_once_the_one_recorded_second_diffs_against_the_first(tmp_path: Path) -> None:
    """Today both diffed against #1 and both sent its problems as resolved."""
    history = tmp_path / "h.sqlite"
    with webhook_receiver() as receiver:
        # a problem to resolve, told to the receiver (what a target is told is tracked per target)
        first = _audit_process(tmp_path, history, "-e", "host_minflt_per_s=0", "--notify-url", receiver.url)
        assert first.wait(timeout=120) in (0, 10)
        assert history_rows(history, "SELECT count(*) FROM problems WHERE status = 'new'")[0][0] >= 1
        assert len(receiver.bodies) == 1 and receiver.bodies[0]["new"]
        receiver.bodies.clear()
        notify = (*_quiet(tmp_path), "--notify-url", receiver.url)
        slow = _audit_process(tmp_path, history, *notify, "-e", "interval_s=6")  # begins first (#2)
        _wait_for_rows(history, 2, slow)
        quick = _audit_process(tmp_path, history, *notify, "-e", "interval_s=0.5")  # records first (#3)
        _, quick_err = quick.communicate(timeout=120)
        assert quick.returncode in (0, 10), quick_err.decode()
        assert slow.poll() is None, "the quick audit must record while the slow one runs"
        _, err = slow.communicate(timeout=120)
        assert slow.returncode in (0, 10), err.decode()
    rows = history_rows(history, "SELECT id, baseline_id FROM runs ORDER BY id")
    assert rows == [(1, None), (2, 3), (3, 1)]
    resolved = [(p["host"], p["code"], p["comm"]) for body in receiver.bodies for p in body["resolved"]]
    assert resolved and len(resolved) == len(set(resolved)), receiver.bodies


# -- 3 and 4. bounds, --replay --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--keep-runs", "999999999999999999999"], "--keep-runs must be a whole number from 1 to 10000000"),
        (["--keep-runs", "-1"], "--keep-runs must be a whole number from 1"),
        (["--keep-days", "1e308"], "--keep-days must be at most 36500 days"),
        (["--keep-days", "inf"], "--keep-days must be a finite number > 0"),
        (["--keep-days", "nan"], "--keep-days must be a finite number > 0"),
        (["--keep-days", "0"], "--keep-days must be a finite number > 0"),
        (["--print-cron", "--keep-runs", "0"], "--keep-runs must be a whole number"),
    ],
)
def test_huge_or_meaningless_retention_is_a_usage_error_before_anything_runs(
    tmp_path: Path, capsys: Any, monkeypatch: Any, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", *FAST, *argv]) == 5
    out, err = capsys.readouterr()
    assert message in err and "internal error" not in err and not out
    assert not (tmp_path / "reports").exists()


def test_an_audit_of_a_replay_is_refused_and_records_nothing(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "triage.yml", *FAST, "-o", "old"]) in (0, 10)
    capsys.readouterr()
    assert main(["audit", "--replay", "old", "--history", "h.sqlite", "--notify", "touch told"]) == 5
    err = capsys.readouterr().err
    assert "--replay cannot be audited" in err and "pfdiag run audit.yml --replay old" in err
    assert not (tmp_path / "h.sqlite").exists() and not (tmp_path / "told").exists()
    assert sorted(os.listdir(tmp_path)) == ["old"]


def test_the_history_stays_consistent(tmp_path: Path) -> None:
    """The pruning transaction leaves the file intact (foreign keys: no orphaned rows)."""
    path = tmp_path / "h.sqlite"
    for _ in range(3):
        assert _audit_process(tmp_path, path, "--keep-runs", "1").wait(timeout=120) in (0, 10)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("SELECT count(*) FROM host_results").fetchone() == (1,)
