"""The audit history: one SQLite file of audits, per-host results, findings and open problems.

In: a path (``--history``, ``PFDIAG_HISTORY``, else ``reports/history.sqlite``) and finished runs with
their diff. Out: rows, and reads for ``pfdiag history``. WAL journal and a busy timeout, so two audits
on one history both land; an audit is ``begin()``-ed as a row marked incomplete, then everything it
produced (hosts, findings, problems, counts, ``complete = 1``) is written in one ``BEGIN IMMEDIATE``
transaction, inside which the previous audit is read and diffed. A killed audit leaves its row
incomplete and nothing else: the next audit diffs against the last complete one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diag.findings import CARRIED_EVIDENCE, HostResult, RunResult
from diag.history.diff import Diff, Problem
from diag.history.opening import check_history_file, explain
from diag.history.queries import RECORDED, HistoryError, HistoryQueries
from diag.history.told import TOLD_SCHEMA, ToldRecords
from diag.runs.owner import remove_run_dir
from diag.shared.errors import UsageError
from diag.shared.files import FILE_MODE
from diag.shared.units import now_stamp

BUSY_TIMEOUT_S = 60.0
SCHEMA_VERSION = 2  # 2: the ``told`` table (diag.history.told); a version-1 file gains it when opened
# The per-host rates kept for ``pfdiag history host`` (names as ``sample`` registers them).
KEY_RATES = ("majflt_per_s", "minflt_per_s", "swapin_per_s", "pswpout_per_s", "pgscan_direct_per_s")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  started TEXT NOT NULL, started_ts REAL NOT NULL, finished TEXT, duration_s REAL,
  scope TEXT NOT NULL, playbook TEXT, inventory TEXT, host_limit TEXT, run_dir TEXT,
  complete INTEGER NOT NULL DEFAULT 0, interrupted INTEGER NOT NULL DEFAULT 0,
  hosts INTEGER, states TEXT, baseline_id INTEGER,
  new INTEGER, persisting INTEGER, resolved INTEGER, unknown INTEGER,
  notify_status TEXT, notify_error TEXT);
CREATE INDEX IF NOT EXISTS runs_scope ON runs (scope, complete, id);
CREATE TABLE IF NOT EXISTS host_results (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  host TEXT NOT NULL, state TEXT, reason TEXT, verdict TEXT, severity TEXT, summary TEXT, culprit TEXT,
  majflt_per_s REAL, minflt_per_s REAL, swapin_per_s REAL, pswpout_per_s REAL, pgscan_direct_per_s REAL,
  oom_kill_total INTEGER, boot_id TEXT,
  PRIMARY KEY (run_id, host));
CREATE INDEX IF NOT EXISTS host_results_host ON host_results (host, run_id);
CREATE TABLE IF NOT EXISTS findings (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  host TEXT NOT NULL, check_id TEXT NOT NULL, status TEXT, severity TEXT, value REAL, op TEXT,
  threshold REAL, message TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS findings_run ON findings (run_id, host);
CREATE TABLE IF NOT EXISTS problems (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  host TEXT NOT NULL, code TEXT NOT NULL, comm TEXT NOT NULL, kind TEXT, severity TEXT, summary TEXT,
  status TEXT NOT NULL, first_seen TEXT, streak INTEGER, last_notified TEXT,
  PRIMARY KEY (run_id, host, code, comm, status));
"""


@dataclass(frozen=True, slots=True)
class Pruned:
    """What ``prune`` deleted (audit ids) and, for each run folder it left in place, why."""

    run_ids: tuple[int, ...]
    kept_folders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What ``record`` stored: the audit's id, its baseline (previous complete audit) and the diff."""

    run_id: int
    baseline_id: int | None
    diff: Diff


def _switch_to_wal(db: sqlite3.Connection, wait_s: float) -> None:
    """``PRAGMA journal_mode = WAL``, retried for up to ``wait_s``: SQLite answers "database is locked"
    at once, without its busy handler, while another connection holds the file (two audits opening a
    new history together: one of them failed at once, 5 times in 6 here)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


class History(HistoryQueries, ToldRecords):
    """An open history file (reads inherited from ``HistoryQueries``); a context manager."""

    def __init__(self, path: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        check_history_file(path, SCHEMA_VERSION)  # read-only: nothing changes in a file that is not ours
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # 0600 like the run folders (it holds the same hosts, processes and command lines); SQLite
            # gives its -wal and -shm files the mode of the database file
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT)
            self.db = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            _switch_to_wal(self.db, busy_timeout_s)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoint, never corrupt
            with self.transaction():
                for statement in [*SCHEMA.split(";"), TOLD_SCHEMA]:
                    if statement.strip():
                        self.db.execute(statement)
                # an older schema is brought to this one by the tables just made (never a newer one down)
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self.db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema' AND CAST(value AS INTEGER) < ?",
                    (str(SCHEMA_VERSION), SCHEMA_VERSION),
                )
        except (OSError, sqlite3.Error, HistoryError) as exc:
            if hasattr(self, "db"):
                self.db.close()
            if isinstance(exc, HistoryError):
                raise
            error = exc if isinstance(exc, sqlite3.Error) else sqlite3.OperationalError(exc.strerror or exc)
            raise explain(error, path, "open", wait_s=busy_timeout_s) from None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE``: takes the write lock at once (waiting up to the busy timeout).

        An SQLite error (locked past the timeout, disk full, read-only file) is a ``HistoryError``."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            yield self.db
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> HistoryError:
        # what the run folder holds is said by the audit, which knows the folder (and checks it)
        return explain(exc, self.path, "write", wait_s=self.busy_timeout_s)

    # -- writing ------------------------------------------------------------------------------------

    def begin(self, scope: str, playbook: str, inventory: list[str], limit: str | None, run_dir: str) -> int:
        """Insert the audit as incomplete (what a killed audit leaves behind); return its id.

        ``run_dir`` must be no other audit's (checked in the same transaction, so two audits given one
        ``-o`` cannot both pass): writing there would overwrite what that audit's row points to.
        """
        with self.transaction() as db:
            owner = db.execute(
                "SELECT id FROM runs WHERE run_dir = ? AND run_dir != ''", (run_dir,)
            ).fetchone()
            if owner is not None:
                raise UsageError(
                    f"-o {run_dir!r} is the run folder of audit #{owner['id']} in {str(self.path)!r}",
                    hint="give a new folder, or no -o (each audit gets its own reports/<time>-<playbook>/)",
                )
            cursor = db.execute(
                "INSERT INTO runs (started, started_ts, scope, playbook, inventory, host_limit, run_dir)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now_stamp(), time.time(), scope, playbook, json.dumps(inventory), limit, run_dir),
            )
            return int(cursor.lastrowid or 0)

    def forget(self, run_id: int) -> None:
        """Drop an audit that never ran (it failed before any host: bad inventory, bad -e)."""
        with self.transaction() as db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def record(
        self, run_id: int, run: RunResult, scope: str, diff_with: Callable[[list[Problem]], Diff]
    ) -> Recorded:
        """Write the whole audit in one transaction; ``diff_with(previous open problems)`` gives the diff."""
        with self.transaction() as db:
            started = db.execute("SELECT started_ts FROM runs WHERE id = ?", (run_id,)).fetchone()
            if started is None:  # pruned while it ran, by a pfdiag that pruned unfinished audits
                raise HistoryError(
                    f"audit #{run_id} was removed from {str(self.path)!r} while it ran; it is not recorded",
                    hint=f"its results are in its run folder, if that is still there: {run.run_dir}",
                )
            # The latest complete audit of the scope now, inside the write lock: of two audits at once,
            # the one recorded second is compared with the first, not with what both started after.
            baseline = self.baseline(scope)
            previous = self.problems(baseline, open_only=True) if baseline is not None else []
            diff = diff_with(previous)
            complete = 0 if run.interrupted else 1
            if not complete:  # an interrupted audit is kept, but nothing reads its diff as a baseline
                diff = Diff(unknown=tuple(previous))
            states: dict[str, int] = {}
            for host in run.hosts:
                states[host.status] = states.get(host.status, 0) + 1
                self._write_host(db, run_id, host)
            for problem in [*diff.new, *diff.persisting, *diff.resolved, *diff.unknown]:
                db.execute(
                    "INSERT OR REPLACE INTO problems VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run_id,
                        problem.host,
                        problem.code,
                        problem.comm,
                        problem.kind,
                        problem.severity,
                        problem.summary,
                        problem.status,
                        problem.first_seen,
                        problem.streak,
                        problem.last_notified,
                    ),
                )
            counts = diff.counts()
            duration = time.time() - float(started["started_ts"])
            db.execute(
                "UPDATE runs SET finished = ?, duration_s = ?, complete = ?, interrupted = ?, hosts = ?,"
                " states = ?, baseline_id = ?, new = ?, persisting = ?, resolved = ?, unknown = ?,"
                " run_dir = ? WHERE id = ?",
                (
                    run.finished or now_stamp(),
                    duration,
                    complete,
                    int(run.interrupted),
                    len(run.hosts),
                    json.dumps(states),
                    baseline,
                    counts["new"],
                    counts["persisting"],
                    counts["resolved"],
                    counts["unknown"],
                    run.run_dir,
                    run_id,
                ),
            )
        return Recorded(run_id, baseline, diff)

    @staticmethod
    def _write_host(db: sqlite3.Connection, run_id: int, host: HostResult) -> None:
        verdict = host.verdict
        carried = _carried(host)
        measured = host.sample.rates if host.sample is not None else None
        rates = [getattr(measured, name, None) for name in KEY_RATES]
        db.execute(
            "INSERT OR REPLACE INTO host_results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                run_id,
                host.host,
                host.status,
                host.reason,
                verdict.code if verdict else None,
                verdict.severity if verdict else None,
                verdict.summary if verdict else None,
                verdict.culprits[0].comm if verdict and verdict.culprits else None,
                *rates,
                carried.get("oom_kill_total"),
                carried.get("boot_id"),
            ),
        )
        # Only failing and skipped checks: a pass is what "no row" means (on a host that was evaluated),
        # and the passes were two thirds of a fleet's history (every finding is in the run folder's
        # hosts.jsonl while the audit is retained).
        db.executemany(
            "INSERT INTO findings VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    run_id,
                    host.host,
                    f.check,
                    f.status,
                    f.severity,
                    f.value,
                    f.op,
                    f.threshold,
                    f.message,
                    f.reason,
                )
                for f in host.findings
                if f.status != "pass"
            ],
        )

    def notified(
        self, run_id: int, status: str, error: str | None, keys: Sequence[tuple[str, str, str]]
    ) -> None:
        """After the notifier ran: its outcome, and (when it was delivered) when each problem was told."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET notify_status = ?, notify_error = ? WHERE id = ?", (status, error, run_id)
            )
            if status == "sent":
                stamp = now_stamp()
                for host, code, comm in keys:
                    db.execute(
                        "UPDATE problems SET last_notified = ? WHERE run_id = ? AND host = ? AND code = ?"
                        " AND comm = ?",
                        (stamp, run_id, host, code, comm),
                    )

    # -- retention ----------------------------------------------------------------------------------

    def prune(self, scope: str, *, keep_days: float | None, keep_runs: int | None) -> Pruned:
        """Delete finished audits older than ``keep_days`` (any scope) or beyond the newest ``keep_runs``
        of ``scope``, with their rows, and their run folders where ``remove_run_dir`` can prove them
        pfdiag's. Never an unfinished audit (one running now, or killed), and never the latest complete
        audit of a scope (the next audit's baseline). Decided inside the write lock."""
        with self.transaction() as db:
            doomed: set[int] = set()
            if keep_days is not None:
                cutoff = time.time() - keep_days * 86400
                rows = db.execute(
                    "SELECT id FROM runs WHERE finished IS NOT NULL AND started_ts < ?", (cutoff,)
                )
                doomed |= {int(r["id"]) for r in rows}
            if keep_runs is not None:
                rows = db.execute(
                    f"SELECT id FROM runs WHERE scope = ? AND finished IS NOT NULL ORDER BY {RECORDED}"
                    " LIMIT -1 OFFSET ?",
                    (scope, keep_runs),
                )
                doomed |= {int(r["id"]) for r in rows}
            doomed -= self.baselines()
            if not doomed:
                return Pruned((), ())
            marks = ",".join("?" * len(doomed))
            folders = {
                r["run_dir"]
                for r in db.execute(f"SELECT run_dir FROM runs WHERE id IN ({marks})", tuple(doomed))
            }
            # a folder a kept audit still uses (an older pfdiag let audits share one -o DIR) stays
            folders -= {
                r["run_dir"]
                for r in db.execute(f"SELECT run_dir FROM runs WHERE id NOT IN ({marks})", tuple(doomed))
            }
            db.execute(f"DELETE FROM runs WHERE id IN ({marks})", tuple(doomed))
        kept = [remove_run_dir(Path(folder)) for folder in sorted(f for f in folders if f)]
        return Pruned(tuple(sorted(doomed)), tuple(reason for reason in kept if reason))


# What the next audit's ``previous`` offers a playbook per host (``previous.oom_kill_total``,
# ``previous.boot_id``: see ``queries.previous_hosts``). The history takes them from whichever finding's
# evidence carries them, so it knows the names it stores and no playbook's check ids (defined with the
# findings, so a host's brief keeps them).
CARRIED = CARRIED_EVIDENCE


def _carried(host: HostResult) -> dict[str, Any]:
    """The carried values of ``host``: the first finding whose evidence holds each name."""
    found: dict[str, Any] = {}
    for finding in host.findings:
        for name in CARRIED:
            if name not in found and finding.evidence.get(name) is not None:
                found[name] = finding.evidence[name]
    return found
