"""``pfdiag history`` as a person reads it: the list of audits, one audit, a diff, a host over time.

In: what ``diag.history`` returns for each query (rows as dicts today). Out: terminal text (tables in
tabulate's ``simple`` format) or the JSON that ``--json`` prints. Every recorded string (host names,
process names, culprits, summaries) came from a host and is shown escaped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diag.shared.escape import escape_terminal


def history_json(data: Any) -> str:
    """What ``--json`` prints for any history query."""
    return json.dumps(data, indent=2, default=str)


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    """A terminal table of recorded values: host names, process names, culprits shown escaped."""
    from tabulate import tabulate

    shown = [
        [c if c is None or isinstance(c, int | float) else escape_terminal(c) for c in row] for row in rows
    ]
    return tabulate(shown, headers=headers, tablefmt="simple")


def _scope_label(run: dict[str, Any]) -> str:
    playbook = Path(run.get("playbook") or "?").name
    inventory = ",".join(run.get("inventory") or []) or "localhost"
    limit = f" -l {run['host_limit']}" if run.get("host_limit") else ""
    return f"{playbook} -i {inventory}{limit}"


def runs_text(runs: list[dict[str, Any]]) -> str:
    """``pfdiag history``: one row per recorded audit, newest last."""
    rows = []
    for r in runs:
        states = " ".join(f"{k}={v}" for k, v in (r["states"] or {}).items())
        done = "complete" if r["complete"] else ("interrupted" if r["interrupted"] else "INCOMPLETE")
        counts = "" if r["new"] is None else f"{r['new']}/{r['persisting']}/{r['resolved']}/{r['unknown']}"
        rows.append([r["id"], r["started"], _scope_label(r), r["hosts"] or "", states, counts, done])
    headers = ["id", "started", "scope", "hosts", "states", "new/pers/res/unk", ""]
    return _table(rows, headers) if rows else "no audits recorded"


def show_text(data: dict[str, Any]) -> str:
    """``pfdiag history show RUN``: the audit's scope, its hosts, its problems."""
    done = "complete" if data["complete"] else "incomplete"
    lines = [
        f"audit #{data['id']} {data['started']} .. {data['finished'] or '?'} ({done}) "
        + escape_terminal(_scope_label(data))
    ]
    lines.append(
        f"run folder: {escape_terminal(data['run_dir'])}; notification: {data['notify_status'] or '-'}"
    )
    hosts = [
        [h["host"], h["state"], h["verdict"], h["culprit"] or "", h["majflt_per_s"], h["minflt_per_s"]]
        for h in data["hosts_detail"]
    ]
    lines.append(_table(hosts, ["host", "state", "verdict", "culprit", "major/s", "minor/s"]))
    problems = [
        [p["status"], p["host"], p["code"], p["comm"], p["severity"], p["first_seen"]]
        for p in data["problems"]
    ]
    if problems:
        lines.append("")
        lines.append(_table(problems, ["status", "host", "problem", "process", "severity", "first seen"]))
    return "\n".join(lines)


def diff_text(data: dict[str, Any]) -> str:
    """``pfdiag history diff``: the counts per status, each problem on a line of its own."""
    lines = [f"audit #{data['b']} against #{data['a']}:"]
    for key in ("new", "persisting", "resolved", "unknown"):
        lines.append(f"  {key}: {len(data[key])}")
        lines.extend(
            escape_terminal(
                f"    {p['host']} {p['code']} {p['comm']} ({p['severity']}): {p['summary'][:100]}"
            )
            for p in data[key]
        )
    return "\n".join(lines)


def host_text(rows: list[dict[str, Any]]) -> str:
    """``pfdiag history host NAME``: the host's state, verdict and rates at each audit."""
    table = [
        [
            r["run_id"],
            r["started"],
            r["state"],
            r["verdict"],
            r["culprit"] or "",
            r["majflt_per_s"],
            r["minflt_per_s"],
        ]
        for r in rows
    ]
    return _table(table, ["audit", "time", "state", "verdict", "culprit", "major/s", "minor/s"])
