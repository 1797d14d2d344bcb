"""Each host against its own audits: audits recorded through the store's own API, read back read-only.

The window, the minimum number of audits, "usual" against "above", a missing, a foreign and a locked
history file; and reading never changes the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

from diag.findings import HostResult, RunResult, Verdict
from diag.history.baseline import MIN_AUDITS, READ_TIMEOUT_S, read_baselines
from diag.history.diff import diff_problems
from diag.history.store import History
from diag.probe.measurements import HostSample
from diag.shared.units import now_stamp

SCOPE = '{"playbook": "audit.yml", "inventory": ["fleet"], "limit": null}'


def sampled(host: str, minflt_per_s: float, majflt_per_s: float = 0.0) -> HostResult:
    sample = HostSample.from_view(
        {"interval_s": 1.0, "rates": {"minflt_per_s": minflt_per_s, "majflt_per_s": majflt_per_s}}
    )
    return HostResult(host, verdict=Verdict("ok", "ok", "quiet"), sample=sample)


def audit(history: History, *hosts: HostResult) -> None:
    run = RunResult("audit.yml", ["fleet"], None, now_stamp(), finished=now_stamp(), hosts=list(hosts))
    run_id = history.begin(SCOPE, "audit.yml", ["fleet"], None, "")
    history.record(run_id, run, SCOPE, lambda before: diff_problems(before, run.hosts, now_stamp()))


def recorded(path: Path, minor_rates: list[float], host: str = "web01") -> Path:
    with History(path) as history:
        for rate in minor_rates:
            audit(history, sampled(host, rate, 0.2))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_host_at_its_usual_rates_is_usual_and_one_at_twelve_times_its_median_is_above(
    tmp_path: Path,
) -> None:
    path = recorded(tmp_path / "h.sqlite", [2800, 3000, 3100, 3300, 3600, 3100, 2900])
    baselines = read_baselines(path, ["web01"], 14.0, time.time())
    usual = baselines.compare("web01", {"minflt_per_s": 3500.0, "majflt_per_s": 0.2})
    assert (usual.status, usual.audits, usual.label) == ("usual", 7, "usual for this host")
    assert usual.summary.startswith("usual for this host (minor/s median 3,100, p95 ")
    assert usual.minflt_per_s is not None and usual.minflt_per_s.median == 3100.0
    storm = baselines.compare("web01", {"minflt_per_s": 37_200.0, "majflt_per_s": 0.2})
    assert storm.status == "above" and storm.ratio == 12.0
    assert storm.summary == "12x its usual minor/s (median 3,100 over 7 audits)"


def test_majors_on_a_host_that_never_has_any_are_above_without_a_ratio(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with History(path) as history:
        for _ in range(MIN_AUDITS):
            audit(history, sampled("db01", 500.0, 0.0))
    baselines = read_baselines(path, ["db01"], 14.0, time.time())
    assert baselines.compare("db01", {"minflt_per_s": 500.0, "majflt_per_s": 4.8}).status == "usual"  # floor
    swap = baselines.compare("db01", {"minflt_per_s": 500.0, "majflt_per_s": 40.0})
    assert swap.status == "above" and swap.ratio is None
    assert swap.summary == "40.0 major/s where its usual is 0 (p95 0 over 5 audits)"


def test_fewer_audits_than_the_minimum_state_no_baseline(tmp_path: Path) -> None:
    path = recorded(tmp_path / "h.sqlite", [3000.0] * (MIN_AUDITS - 1))
    few = read_baselines(path, ["web01"], 14.0, time.time()).compare("web01", {"minflt_per_s": 90_000.0})
    assert few.status == "few-audits" and few.audits == MIN_AUDITS - 1
    assert few.summary == f"only {MIN_AUDITS - 1} audits of this host in the last 14 days: a baseline needs 5"


def test_only_the_audits_inside_the_window_count(tmp_path: Path) -> None:
    path = recorded(tmp_path / "h.sqlite", [3000.0] * MIN_AUDITS)
    later = time.time() + 2 * 86400  # read as if two days later: a one-day window holds none of them
    assert read_baselines(path, ["web01"], 1.0, later).compare("web01", {}).status == "no-history"
    assert read_baselines(path, ["web01"], 3.0, later).compare("web01", {}).audits == MIN_AUDITS


def test_a_host_the_history_does_not_know_has_no_history(tmp_path: Path) -> None:
    path = recorded(tmp_path / "h.sqlite", [3000.0] * MIN_AUDITS)
    baselines = read_baselines(path, ["web01", "web02"], 14.0, time.time())
    fresh = baselines.compare("web02", {"minflt_per_s": 10.0})
    assert (fresh.status, fresh.label) == ("no-history", "no history")
    assert fresh.summary == "no history for this host (no audit of it in the last 14 days)"
    assert "1 of 2 hosts with 5 or more audits" in baselines.note


def test_a_missing_history_is_no_history_not_an_error(tmp_path: Path) -> None:
    baselines = read_baselines(tmp_path / "none.sqlite", ["web01"], 14.0, time.time())
    assert not baselines.found and baselines.warning is None
    assert baselines.note.startswith(f"no history: nothing at {tmp_path / 'none.sqlite'} to compare")
    assert baselines.compare("web01", {}).summary == "no history for this host"
    assert baselines.for_result(sampled("web01", 3000.0)) is None  # said once by the note, not per host
    assert not (tmp_path / "none.sqlite").exists()


def test_a_foreign_file_is_a_warning_and_stays_as_it_was(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    before = {p: digest(p) for p in (text, other)}
    for path, why in ((text, "file is not a database"), (other, "is not a pfdiag audit history")):
        baselines = read_baselines(path, ["web01"], 14.0, time.time())
        assert baselines.warning is not None and why in baselines.warning, baselines.warning
        assert "--history" in baselines.warning and baselines.hosts == {}
    assert {p: digest(p) for p in (text, other)} == before
    directory = read_baselines(tmp_path, ["web01"], 14.0, time.time())
    assert directory.warning is not None and "not a regular file" in directory.warning


def test_reading_never_writes_the_history_nor_waits_on_an_audits_write_lock(tmp_path: Path) -> None:
    path = recorded(tmp_path / "h.sqlite", [3000.0] * MIN_AUDITS)
    before = (digest(path), path.stat().st_mtime_ns)
    with History(path) as writer, writer.transaction():  # an audit in the middle of recording
        started = time.monotonic()
        baselines = read_baselines(path, ["web01"], 14.0, time.time())
        assert time.monotonic() - started < READ_TIMEOUT_S  # WAL: a reader never waits for a writer
        assert baselines.hosts["web01"].audits == MIN_AUDITS
    assert (digest(path), path.stat().st_mtime_ns) == before


def test_a_rollback_journal_file_locked_by_a_writer_is_a_warning_after_a_short_wait(tmp_path: Path) -> None:
    path = recorded(tmp_path / "h.sqlite", [3000.0] * MIN_AUDITS)
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("PRAGMA journal_mode = DELETE")  # an older or copied history, not in WAL
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        baselines = read_baselines(path, ["web01"], 14.0, time.time())
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert baselines.warning is not None and "locked" in baselines.warning
    assert READ_TIMEOUT_S * 0.9 <= waited < READ_TIMEOUT_S + 5
