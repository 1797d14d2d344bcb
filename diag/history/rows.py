"""The history's rows as records: an audit, a host in an audit, a host's point in its series.

In: rows of the history's SQLite tables (``diag.history.store``'s schema), read by
``diag.history.queries``. Out: frozen records whose fields are the tables' columns, in their order;
their plain data (``diag.shared.records.to_data``) is what ``pfdiag history ... --json`` prints, so a
column's name is its JSON key. A column a later schema adds is ignored until a field names it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from diag.history.diff import Problem
from diag.shared.records import from_data


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit (a row of ``runs``): when, what scope, how far it got, and its diff's counts."""

    id: int
    started: str
    started_ts: float
    finished: str | None = None
    duration_s: float | None = None
    scope: str = ""
    playbook: str | None = None
    inventory: tuple[str, ...] = ()
    host_limit: str | None = None
    run_dir: str | None = None
    complete: bool = False
    interrupted: bool = False
    hosts: int | None = None
    states: Mapping[str, int] = field(default_factory=dict)  # host state -> hosts in it
    baseline_id: int | None = None
    new: int | None = None  # the diff's counts: None until the audit is recorded
    persisting: int | None = None
    resolved: int | None = None
    unknown: int | None = None
    notify_status: str | None = None
    notify_error: str | None = None


@dataclass(frozen=True, slots=True)
class HostRow:
    """One host in one audit (a row of ``host_results``): its state, verdict, culprit and key rates."""

    run_id: int
    host: str
    state: str | None = None
    reason: str | None = None
    verdict: str | None = None
    severity: str | None = None
    summary: str | None = None
    culprit: str | None = None
    majflt_per_s: float | None = None
    minflt_per_s: float | None = None
    swapin_per_s: float | None = None
    pswpout_per_s: float | None = None
    pgscan_direct_per_s: float | None = None
    oom_kill_total: int | None = None
    boot_id: str | None = None


@dataclass(frozen=True, slots=True)
class HostPoint:
    """A host in one audit with the audit's time (``pfdiag history host``): a point of its series.

    ``complete`` is the stored 0/1, as ``--json`` has always printed it here.
    """

    run_id: int
    started: str
    complete: int
    host: str
    state: str | None = None
    reason: str | None = None
    verdict: str | None = None
    severity: str | None = None
    summary: str | None = None
    culprit: str | None = None
    majflt_per_s: float | None = None
    minflt_per_s: float | None = None
    swapin_per_s: float | None = None
    pswpout_per_s: float | None = None
    pgscan_direct_per_s: float | None = None
    oom_kill_total: int | None = None
    boot_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditDetail:
    """One audit with its hosts and problems (``pfdiag history show``): the audit's columns first."""

    id: int
    started: str
    started_ts: float
    finished: str | None = None
    duration_s: float | None = None
    scope: str = ""
    playbook: str | None = None
    inventory: tuple[str, ...] = ()
    host_limit: str | None = None
    run_dir: str | None = None
    complete: bool = False
    interrupted: bool = False
    hosts: int | None = None
    states: Mapping[str, int] = field(default_factory=dict)
    baseline_id: int | None = None
    new: int | None = None
    persisting: int | None = None
    resolved: int | None = None
    unknown: int | None = None
    notify_status: str | None = None
    notify_error: str | None = None
    hosts_detail: tuple[HostRow, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class PreviousHost:
    """What the next audit needs of a host's last complete audit: its OOM-kill counter, boot id, time."""

    oom_kill_total: int | None
    boot_id: str | None
    time: str


def audit_row(row: sqlite3.Row) -> AuditRow:
    """A ``runs`` row; its JSON columns (inventory, states) decoded, its 0/1 flags as booleans."""
    return from_data(AuditRow, _audit_columns(row))


def audit_detail(row: sqlite3.Row, hosts: list[sqlite3.Row], problems: list[Problem]) -> AuditDetail:
    """A ``runs`` row with its ``host_results`` rows and its problems."""
    data = _audit_columns(row)
    data["hosts_detail"] = [dict(h) for h in hosts]
    return replace(from_data(AuditDetail, data), problems=tuple(problems))


def _audit_columns(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["inventory"] = json.loads(data["inventory"] or "[]")
    data["states"] = json.loads(data["states"] or "{}")
    data["complete"] = bool(data["complete"])
    data["interrupted"] = bool(data["interrupted"])
    return data
