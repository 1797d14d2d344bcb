"""What each notification target has been told: per target and scope, the problems it heard are firing.

In: a target (``--notify CMD`` or ``--notify-url URL``, kept as a hash: never the command or URL, which
may hold a token), an audit's scope and ``Diff``. Out: the diff as that target should hear it, and
after a delivery the rows that remember it. A target is told every transition it has not been told
yet: a problem it heard firing that is no longer open is resolved for it, whichever audit saw it go
(a manual ``pfdiag audit`` without ``--notify`` used to consume the "resolved", and the scheduled
audit's receiver was never told); a persisting problem it never heard is repeated to it. Rows exist
only for problems a target heard firing, so the table is as small as the open problems.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace

from diag.history.diff import Diff, Problem
from diag.shared.records import from_data, to_data

TOLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS told (
  target TEXT NOT NULL, scope TEXT NOT NULL, host TEXT NOT NULL, code TEXT NOT NULL, comm TEXT NOT NULL,
  problem TEXT NOT NULL, told_at TEXT NOT NULL,
  PRIMARY KEY (target, scope, host, code, comm))
"""

Key = tuple[str, str, str]


def target_id(kind: str, spec: str) -> str:
    """``cmd:``/``url:`` and a hash of the command or URL (the same target in every audit, no secret).

    >>> target_id("url", "https://hooks.example/x?token=abc")
    'url:9a2f973764d42054'
    """
    return f"{kind}:{hashlib.sha256(spec.encode()).hexdigest()[:16]}"


def for_target(diff: Diff, firing: Mapping[Key, Problem]) -> Diff:
    """``diff`` as a target that heard ``firing`` should hear it: persisting problems carry when IT was
    last told (never: due now), and what it heard firing that is no longer open is resolved.

    >>> java = Problem("web1", "minor-storm", "java", "verdict", "warning", "storm", "persisting")
    >>> heard = {java.key: replace(java, last_notified="2026-12-01T10:00:00+0000")}
    >>> [(p.key[1], p.status) for p in for_target(Diff(), heard).resolved]  # resolved while not told
    [('minor-storm', 'resolved')]
    >>> [p.last_notified for p in for_target(Diff(persisting=(java,)), {}).persisting]
    [None]
    """
    still_open = {p.key for p in diff.open}
    persisting = tuple(
        replace(p, last_notified=firing[p.key].last_notified if p.key in firing else None)
        for p in diff.persisting
    )
    resolved = {p.key: p for p in diff.resolved if p.key in firing}
    for key, problem in firing.items():
        if key not in still_open and key not in resolved:
            resolved[key] = replace(problem, status="resolved")
    return Diff(diff.new, persisting, tuple(resolved[k] for k in sorted(resolved)), diff.unknown)


class ToldRecords:
    """The ``told`` table's reads and writes; ``db`` and ``transaction`` are ``History``'s."""

    db: sqlite3.Connection
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def told_firing(self, target: str, scope: str) -> dict[Key, Problem]:
        """The problems ``target`` heard firing in ``scope`` (``last_notified``: when it was last told)."""
        rows = self.db.execute(
            "SELECT problem, told_at FROM told WHERE target = ? AND scope = ?", (target, scope)
        ).fetchall()
        heard = [
            from_data(Problem, {**json.loads(r["problem"]), "last_notified": r["told_at"]}) for r in rows
        ]
        return {p.key: p for p in heard}

    def mark_told(
        self, target: str, scope: str, firing: Sequence[Problem], resolved: Sequence[Problem], stamp: str
    ) -> None:
        """After a delivery to ``target``: it heard ``firing`` (now) and ``resolved`` (forgotten)."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM told WHERE target = ? AND scope = ? AND host = ? AND code = ? AND comm = ?",
                [(target, scope, *p.key) for p in resolved],
            )
            db.executemany(
                "INSERT OR REPLACE INTO told VALUES (?,?,?,?,?,?,?)",
                [(target, scope, *p.key, json.dumps(to_data(p)), stamp) for p in firing],
            )
