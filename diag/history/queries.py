"""Reading the audit history: baselines, problems, audits, diffs between stored audits, a host's series.

In: an open SQLite connection (``History`` in ``diag.history.store`` opens it and inherits these reads).
Out: records (``diag.history.rows``: audits, hosts, a host's series; ``Problem`` / ``Diff``) for
``pfdiag audit`` (the baseline and what the playbook needs from the previous audit) and ``pfdiag history``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from diag.findings import was_judged
from diag.history.diff import Diff, Problem, compare
from diag.history.rows import AuditDetail, AuditRow, HostPoint, PreviousHost, audit_detail, audit_row
from diag.shared.errors import DiagError
from diag.shared.records import from_data

# Newest first, by when an audit was recorded (started + duration, set by ``record`` in its
# transaction): two audits at once are recorded in the other order from the one they started in.
RECORDED = "started_ts + coalesce(duration_s, 0) DESC, id DESC"


class HistoryError(DiagError):
    """The history database cannot be opened, read or written."""


class HistoryQueries:
    """The reads of a history file; ``db`` and ``path`` are set by ``History``."""

    db: sqlite3.Connection
    path: Path

    def baseline(self, scope: str) -> int | None:
        """The latest complete audit of ``scope``: the one recorded last (not the one started last)."""
        row = self.db.execute(
            f"SELECT id FROM runs WHERE scope = ? AND complete = 1 ORDER BY {RECORDED} LIMIT 1", (scope,)
        ).fetchone()
        return None if row is None else int(row["id"])

    def baselines(self) -> set[int]:
        """The latest complete audit of every scope: what retention must keep for the next audit."""
        rows = self.db.execute(
            f"SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY scope ORDER BY {RECORDED}) AS n"
            " FROM runs WHERE complete = 1) WHERE n = 1"
        )
        return {int(r["id"]) for r in rows}

    def describe(self, run_id: int | None) -> tuple[int, str] | None:
        """(id, start time) of an audit, for "against audit #3 (time)"."""
        if run_id is None:
            return None
        row = self.db.execute("SELECT id, started FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else (int(row["id"]), str(row["started"]))

    def duration(self, run_id: int) -> float | None:
        row = self.db.execute("SELECT duration_s FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None or row["duration_s"] is None else float(row["duration_s"])

    def last_success(self, scope: str) -> str | None:
        """When the latest complete audit of ``scope`` finished."""
        row = self.db.execute(
            f"SELECT finished FROM runs WHERE scope = ? AND complete = 1 ORDER BY {RECORDED} LIMIT 1",
            (scope,),
        ).fetchone()
        return None if row is None else row["finished"]

    def problems(self, run_id: int, *, open_only: bool = False) -> list[Problem]:
        query = "SELECT * FROM problems WHERE run_id = ?"
        if open_only:
            query += " AND status != 'resolved'"
        rows = self.db.execute(query + " ORDER BY host, code, comm", (run_id,)).fetchall()
        return [from_data(Problem, dict(row)) for row in rows]

    def previous_hosts(self, scope: str) -> dict[str, PreviousHost]:
        """Per host of the last complete audit of ``scope``: OOM-kill counter, boot id, time."""
        baseline = self.baseline(scope)
        if baseline is None:
            return {}
        rows = self.db.execute(
            "SELECT h.host, h.oom_kill_total, h.boot_id, r.started FROM host_results h JOIN runs r"
            " ON r.id = h.run_id WHERE h.run_id = ? AND h.state = 'ok'",
            (baseline,),
        ).fetchall()
        return {
            row["host"]: PreviousHost(row["oom_kill_total"], row["boot_id"], row["started"]) for row in rows
        }

    def diff_runs(self, a: int, b: int) -> Diff:
        """What changed from audit ``a`` to audit ``b``, from the stored problems and host results."""
        self.run(a), self.run(b)  # both exist, or HistoryError
        before = self.problems(a, open_only=True)
        seen = [p for p in self.problems(b) if p.status in ("new", "persisting")]
        hosts = {
            row["host"]: row
            for row in self.db.execute("SELECT host, state, verdict FROM host_results WHERE run_id = ?", (b,))
        }
        checks: dict[tuple[str, str], set[str]] = {}
        for row in self.db.execute("SELECT host, check_id, status FROM findings WHERE run_id = ?", (b,)):
            checks.setdefault((row["host"], row["check_id"]), set()).add(row["status"])

        def evaluated(problem: Problem) -> bool:
            host = hosts.get(problem.host)
            if host is None or not was_judged(host["state"], host["verdict"]):
                return False
            return problem.kind != "check" or checks.get((problem.host, problem.code)) != {"skip"}

        return compare(before, seen, evaluated)

    def latest_pair(self) -> tuple[int, int]:
        """The latest audit and the one it was compared against (or the audit before it)."""
        row = self.db.execute("SELECT id, baseline_id FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            raise HistoryError(f"no audit in {str(self.path)!r} yet", hint="run `pfdiag audit` first")
        return self.before(int(row["id"])), int(row["id"])

    def before(self, run_id: int) -> int:
        """The audit ``run_id`` was compared against: its baseline, else the audit before it."""
        row = self.db.execute("SELECT baseline_id FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is not None and row["baseline_id"] is not None:
            return int(row["baseline_id"])
        earlier = self.db.execute(
            "SELECT id FROM runs WHERE id < ? ORDER BY id DESC LIMIT 1", (run_id,)
        ).fetchone()
        if earlier is None:
            raise HistoryError(f"audit {run_id} has no earlier audit to compare with")
        return int(earlier["id"])

    def runs(self, limit: int | None = None) -> list[AuditRow]:
        query = "SELECT * FROM runs ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [audit_row(row) for row in self.db.execute(query).fetchall()]

    def run(self, run_id: int) -> AuditDetail:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise HistoryError(f"no audit {run_id} in {str(self.path)!r}", hint="`pfdiag history` lists them")
        hosts = self.db.execute("SELECT * FROM host_results WHERE run_id = ? ORDER BY host", (run_id,))
        return audit_detail(row, hosts.fetchall(), self.problems(run_id))

    def host_series(self, host: str) -> list[HostPoint]:
        rows = self.db.execute(
            "SELECT r.id AS run_id, r.started, r.complete, h.* FROM host_results h"
            " JOIN runs r ON r.id = h.run_id WHERE h.host = ? ORDER BY r.id",
            (host,),
        ).fetchall()
        return [from_data(HostPoint, dict(row)) for row in rows]
