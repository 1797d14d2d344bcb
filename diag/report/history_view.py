"""``pfdiag history`` as a person reads it: the list of audits, one audit, a diff, a host over time.

In: the records ``diag.history`` returns for each query (``history.rows``, ``history.diff``). Out:
terminal text (tables in tabulate's ``simple`` format) or the JSON that ``--json`` prints. Every
recorded string (host names, process names, culprits, summaries) came from a host and is shown escaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diag.history.diff import Diff, Problem
from diag.history.rows import AuditDetail, AuditRow, HostPoint
from diag.shared.escape import escape_terminal
from diag.shared.records import to_data


def history_json(data: Any) -> str:
    """What ``--json`` prints for any history query (records as their fields)."""
    return json.dumps(to_data(data), indent=2, default=str)


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    """A terminal table of recorded values: host names, process names, culprits shown escaped."""
    from tabulate import tabulate

    shown = [
        [c if c is None or isinstance(c, int | float) else escape_terminal(c) for c in row] for row in rows
    ]
    return tabulate(shown, headers=headers, tablefmt="simple")


def _scope_label(run: AuditRow | AuditDetail) -> str:
    playbook = Path(run.playbook or "?").name
    inventory = ",".join(run.inventory) or "localhost"
    limit = f" -l {run.host_limit}" if run.host_limit else ""
    return f"{playbook} -i {inventory}{limit}"


def runs_text(runs: Sequence[AuditRow]) -> str:
    """``pfdiag history``: one row per recorded audit, newest last."""
    rows = []
    for r in runs:
        states = " ".join(f"{k}={v}" for k, v in r.states.items())
        done = "complete" if r.complete else ("interrupted" if r.interrupted else "INCOMPLETE")
        counts = "" if r.new is None else f"{r.new}/{r.persisting}/{r.resolved}/{r.unknown}"
        rows.append([r.id, r.started, _scope_label(r), r.hosts or "", states, counts, done])
    headers = ["id", "started", "scope", "hosts", "states", "new/pers/res/unk", ""]
    return _table(rows, headers) if rows else "no audits recorded"


def show_text(data: AuditDetail) -> str:
    """``pfdiag history show ID``: the audit, its hosts and its problems."""
    done = "complete" if data.complete else "incomplete"
    lines = [
        f"audit #{data.id} {data.started} .. {data.finished or '?'} ({done}) "
        + escape_terminal(_scope_label(data))
    ]
    lines.append(f"run folder: {escape_terminal(data.run_dir)}; notification: {data.notify_status or '-'}")
    hosts = [
        [h.host, h.state, h.verdict, h.culprit or "", h.majflt_per_s, h.minflt_per_s]
        for h in data.hosts_detail
    ]
    lines.append(_table(hosts, ["host", "state", "verdict", "culprit", "major/s", "minor/s"]))
    problems = [[p.status, p.host, p.code, p.comm, p.severity, p.first_seen] for p in data.problems]
    if problems:
        lines.append("")
        lines.append(_table(problems, ["status", "host", "problem", "process", "severity", "first seen"]))
    return "\n".join(lines)


def diff_text(a: int, b: int, diff: Diff) -> str:
    """``pfdiag history diff``: audit ``b`` against audit ``a``, problem by problem."""
    lines = [f"audit #{b} against #{a}:"]
    for key in ("new", "persisting", "resolved", "unknown"):
        problems: tuple[Problem, ...] = getattr(diff, key)
        lines.append(f"  {key}: {len(problems)}")
        lines.extend(
            escape_terminal(f"    {p.host} {p.code} {p.comm} ({p.severity}): {p.summary[:100]}")
            for p in problems
        )
    return "\n".join(lines)


def host_text(rows: Sequence[HostPoint]) -> str:
    """``pfdiag history host H``: the host in each audit, oldest first."""
    table = [
        [r.run_id, r.started, r.state, r.verdict, r.culprit or "", r.majflt_per_s, r.minflt_per_s]
        for r in rows
    ]
    return _table(table, ["audit", "time", "state", "verdict", "culprit", "major/s", "minor/s"])
