"""Every file pfdiag writes about hosts is 0600, whatever the umask (issue 17): a run's folder, an audit's
(report.md once "Since the last audit" is prepended), a watch's, a re-rendered report, and the history
with its WAL files. Each test runs under umask 022, where a file made the default way would be 0644.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from diag.cli import main
from diag.history.store import History
from diag.shared.files import FILE_MODE

REPO = Path(__file__).resolve().parents[2]
QUIET = REPO / "tests" / "data" / "runs" / "quiet"
TRIAGE = str(REPO / "playbooks" / "triage.yml")


@pytest.fixture(autouse=True)
def umask_022(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_a_runs_folder_and_exports_are_0600_under_umask_022(tmp_path: Path) -> None:
    argv = ["run", TRIAGE, "--replay", str(QUIET), "-o", "run", "--json", "r.json", "--csv", "csv"]
    assert main(argv) in (0, 2)
    written = {**modes(tmp_path / "run"), **modes(tmp_path / "csv"), "r.json": modes(tmp_path)["r.json"]}
    assert {"run.json", "hosts.jsonl", "report.md", "r.json"} <= set(written)
    assert set(written.values()) == {FILE_MODE}, written


def test_an_audits_report_with_since_the_last_audit_prepended_is_0600(tmp_path: Path) -> None:
    # a real audit of this machine (an audit refuses --replay); report.md is rewritten after the run
    argv = ["audit", "-e", "interval_s=0.5", "--history", "h.sqlite", "-o", "run"]
    assert main(argv) in (0, 2)
    assert (tmp_path / "run" / "report.md").read_text().startswith("## Since the last audit")
    written = modes(tmp_path / "run")
    assert set(written.values()) == {FILE_MODE}, written
    history = {name: mode for name, mode in modes(tmp_path).items() if name.startswith("h.sqlite")}
    assert history and set(history.values()) == {FILE_MODE}, history


def test_a_watchs_run_json_and_events_are_0600(tmp_path: Path) -> None:
    assert main(["watch", "--every", "0.5", "--count", "2", "-o", "w"]) == 0
    written = modes(tmp_path / "w")
    assert {"run.json", "events.jsonl"} <= set(written) and set(written.values()) == {FILE_MODE}, written


def test_a_re_rendered_report_is_0600_even_over_an_old_0644_file(tmp_path: Path) -> None:
    shutil.copytree(QUIET, tmp_path / "quiet")
    old = tmp_path / "report.md"
    old.write_text("an older report\n")
    assert stat.S_IMODE(old.stat().st_mode) == 0o644
    assert main(["report", "quiet", "-o", str(old)]) == 0
    assert main(["report", "quiet", "--format", "json", "-o", "report.json"]) == 0
    assert main(["report", "quiet", "--format", "csv", "-o", "csv"]) == 0
    written = {"report.md": old.stat().st_mode, "report.json": (tmp_path / "report.json").stat().st_mode}
    written.update({f"csv/{p.name}": p.stat().st_mode for p in (tmp_path / "csv").iterdir()})
    assert len(written) >= 3 and {stat.S_IMODE(m) for m in written.values()} == {FILE_MODE}, written


def test_a_new_history_and_its_wal_files_are_0600_under_umask_022(tmp_path: Path) -> None:
    with History(tmp_path / "history.sqlite") as history:
        history.begin("scope", "audit.yml", [], None, str(tmp_path / "run"))
        written = modes(tmp_path)
    assert set(written) == {"history.sqlite", "history.sqlite-shm", "history.sqlite-wal"}
    assert set(written.values()) == {FILE_MODE}, written
