"""A history file is checked before it is used, and SQLite's failures are said plainly: a foreign SQLite
file or a newer pfdiag's history is refused and left as it was (no WAL switch); a held write lock is
"locked by another audit" after the stated wait; a read-only file system and a full disk are named, and
an audit claims its run folder is saved only when that folder reads back (real tmpfs mounts, root only)."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from diag.history.queries import HistoryError
from diag.history.store import SCHEMA_VERSION, History
from tests.test_runstore import tiny_filesystem

REPO = Path(__file__).resolve().parent.parent.parent


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rollback_journal_db(path: Path, *statements: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    _rollback_journal_db(path, "CREATE TABLE users (name TEXT)", "INSERT INTO users VALUES ('ann')")
    before = _digest(path)
    with pytest.raises(HistoryError) as caught:
        History(path)
    assert "is an SQLite database of something else (tables: users)" in caught.value.render()
    assert "--history" in caught.value.render()
    assert _digest(path) == before and not Path(f"{path}-wal").exists()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_a_history_of_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with History(path):
        pass
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode = DELETE")
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION + 1),))
        db.commit()
    before = _digest(path)
    with pytest.raises(HistoryError) as caught:
        History(path)
    text = caught.value.render()
    assert f"was written by a newer pfdiag (schema {SCHEMA_VERSION + 1}" in text and "left untouched" in text
    assert _digest(path) == before and not Path(f"{path}-wal").exists()


def test_a_file_that_is_not_sqlite_is_refused_from_the_cli(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n" * 100)
    assert main(["history", "--history", str(path)]) == 1
    err = capsys.readouterr().err
    assert "is not an SQLite file, so not a pfdiag audit history" in err and "Traceback" not in err
    assert path.read_text() == "my notes\n" * 100


def test_a_held_write_lock_is_another_audit_after_the_stated_wait(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    opened_before = History(path, busy_timeout_s=0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another audit in its write transaction
    try:
        attempts = (
            lambda: opened_before.begin("s", "audit.yml", [], None, ""),
            lambda: History(path, busy_timeout_s=0.5),
        )
        for attempt in attempts:
            with pytest.raises(HistoryError) as caught:
                attempt()
            text = caught.value.render()
            assert "is locked by another audit: its write lock was not free within 0.5 s" in text, text
            assert "run folder is complete" not in text
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        opened_before.close()


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    remounted = subprocess.run(["mount", "-o", "remount,ro", str(path)], capture_output=True, check=False)
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount read-only: {remounted.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], check=False)


def test_a_history_on_a_read_only_file_system_says_so(tmp_path: Path, capsys: Any) -> None:
    with tiny_filesystem(tmp_path / "ro", "1m") as disk:
        with History(disk / "h.sqlite") as history:
            history.begin("s", "audit.yml", [], None, "")
        with _read_only(disk):
            for argv in (["history"], ["audit", "-o", str(tmp_path / "run")]):
                assert main([*argv, "--history", str(disk / "h.sqlite")]) == 1
                err = capsys.readouterr().err
                assert "its folder is on a read-only file system" in err, err
                assert "unable to open database file" not in err and "Traceback" not in err
            assert main(["history", "--history", str(disk / "new" / "h.sqlite")]) == 1
            assert "no audit history at" in capsys.readouterr().err


def test_a_full_disk_never_claims_an_incomplete_run_folder_is_saved(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    with tiny_filesystem(tmp_path / "full", "3m") as disk:
        history = str(disk / "h.sqlite")
        assert main(["audit", "-e", "interval_s=0.2", "--history", history, "-o", str(disk / "r0")]) in (0, 2)
        capsys.readouterr()
        for leave_kib in (8, 32, 64, 128, 160, 176, 192, 208, 224, 256):
            filler = disk / "filler"
            filler.unlink(missing_ok=True)
            _fill(filler, leave_kib)
            run_dir = disk / f"r{leave_kib}"
            code = main(["audit", "-e", "interval_s=0.2", "--history", history, "-o", str(run_dir)])
            err = capsys.readouterr().err
            filler.unlink()
            assert "Traceback" not in err and "internal error" not in err, err
            assert "run folder is complete" not in err  # said on an empty run folder
            assert code in (0, 1, 2), err  # a full disk after the audit was recorded was exit 250
            if code == 1:
                assert "full" in err or "No space left" in err, err
            if "the run itself is saved" in err:
                assert main(["report", str(run_dir)]) == 0
                capsys.readouterr()


def _fill(filler: Path, leave_kib: int) -> None:
    import os

    stat = os.statvfs(filler.parent)
    free = stat.f_bavail * stat.f_frsize - leave_kib * 1024
    with filler.open("wb") as handle:
        handle.write(bytes(max(free, 0)))


def test_the_run_folder_is_said_saved_only_when_it_reads_back(tmp_path: Path, capsys: Any) -> None:
    from diag.audit.service import _with_run_folder

    run_dir = tmp_path / "run"
    triage = str(REPO / "playbooks" / "triage.yml")
    quiet = str(REPO / "tests" / "data" / "runs" / "quiet")
    assert main(["run", triage, "--replay", quiet, "-o", str(run_dir)]) == 0
    capsys.readouterr()
    locked = HistoryError("the audit history 'h' is locked by another audit", hint="let it finish")
    assert _with_run_folder(locked, run_dir).hint == (
        f"the run itself is saved in {str(run_dir)!r} (`pfdiag report {run_dir}` shows it); let it finish"
    )
    (run_dir / "hosts.jsonl").write_text("")
    (run_dir / "report.md").write_text("")
    hint = _with_run_folder(locked, run_dir).hint or ""
    assert hint.startswith(f"the run folder {str(run_dir)!r} is incomplete too")


def test_a_schema_1_history_gains_the_told_table_and_keeps_its_audits(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with History(path) as history:
        history.begin("s", "audit.yml", [], None, "")
    with contextlib.closing(sqlite3.connect(path)) as db:  # as pfdiag before the told table wrote it
        db.execute("DROP TABLE told")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
        db.commit()
    with History(path) as history:
        assert [r.id for r in history.runs()] == [1] and history.told_firing("t", "s") == {}
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (str(SCHEMA_VERSION),)


def test_since_section_on_a_full_disk_is_a_report_error_and_report_md_stays_whole(tmp_path: Path) -> None:
    from diag.report.since import prepend_since
    from diag.shared.errors import ReportError

    with tiny_filesystem(tmp_path / "full", "64k") as disk:
        report = disk / "report.md"
        report.write_text("# the run's report\n")
        report.chmod(0o600)
        _fill(disk / "filler", 0)
        with pytest.raises(ReportError) as caught:
            prepend_since(report, "## Since the last audit\n" + "x" * 100_000)
        assert str(report) in caught.value.render()  # what run_audit turns into a warning
        assert report.read_text() == "# the run's report\n" and not list(disk.glob(".*tmp*"))
        (disk / "filler").unlink()
        prepend_since(report, "## Since the last audit\n")
        assert report.stat().st_mode & 0o777 == 0o600
