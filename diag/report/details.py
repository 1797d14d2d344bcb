"""The per-host parts of the markdown report: hosts not evaluated, per-host details, run metadata.

In: a ``RunResult`` and its ``FleetView`` (hosts ranked by the caller). Out: markdown lines or
tables (tabulate ``github`` format, cells escaped by ``md_cell``), capped for big fleets.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from tabulate import tabulate

from diag.findings import HostResult, RunResult
from diag.fleet import FleetView
from diag.report.cells import fmt_kib, fmt_rate, fmt_value, md_cell, md_code
from diag.shared.escape import Markdown, escape_markdown, md_with_code
from diag.shared.hostlist import fold_hosts, shorten

DETAIL_CAP = 20  # hosts with full details; beyond that only counts and a pointer to the CSVs
NOT_EVALUATED_CAP = 30
PROCESS_ROWS = 5


def table(rows: list[list[Any]], headers: list[str]) -> str:
    """A GitHub/GitLab markdown table; every cell escaped (``Markdown`` cells as written), nothing
    re-parsed as a number."""
    cells = [[md_cell(c) for c in row] for row in rows]
    return tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True)


def not_evaluated(run: RunResult, fleet: FleetView) -> list[str]:
    """Hosts that did not finish (state) or whose counters could not be read (not-evaluable), and why."""
    hosts = fleet.hosts
    unknown = hosts[~hosts["judged"]]
    out = ["## Hosts not evaluated", ""]
    if unknown.empty:
        return [*out, "Every host was evaluated.", ""]
    by_name = {h.host: h for h in run.hosts}
    rows = []
    for _, row in unknown.sort_values(["state", "host"], kind="mergesort").iterrows():
        why = row["reason"]
        if row["state"] == "ok":
            sample = by_name[row["host"]].sample
            skipped = sample.not_evaluable if sample else {}
            why = "; ".join(f"{k}: {v}" for k, v in sorted(skipped.items())) or row["summary"]
        label = row["state"] if row["state"] != "ok" else "not-evaluable"
        # a message and its hint (pfdiag's own line break) read as one line in a cell
        rows.append([row["host"], row["group"], label, " ".join((why or "no reason recorded").split())])
    kinds = pd.Series([r[2] for r in rows]).value_counts()
    summary = ", ".join(
        f"{n} {kind} ({shorten(fold_hosts(r[0] for r in rows if r[2] == kind), 40)})"
        for kind, n in kinds.items()
    )
    out += [f"{len(rows):,} host(s): {escape_markdown(summary)}.", ""]
    out += [table(rows[:NOT_EVALUATED_CAP], ["host", "group", "state", "why"]), ""]
    if len(rows) > NOT_EVALUATED_CAP:
        out += [f"{len(rows) - NOT_EVALUATED_CAP:,} more in hosts.csv (columns `state`, `reason`).", ""]
    return out


def host_section(host: HostResult) -> str:
    """One host: verdict summary, the chain of checks (value vs threshold), its top processes."""
    title = f"{host.verdict.code} ({host.verdict.severity})" if host.verdict else host.status
    out = [f"### {escape_markdown(host.host)}: {title}", ""]
    if host.verdict:
        out += [md_with_code(" ".join(host.verdict.summary.split())), ""]
    if host.baseline is not None:
        out += [f"Against its own audits: {host.baseline.summary}.", ""]
    if host.findings:
        rows: list[list[Any]] = [
            [
                f.check,
                f.status,
                fmt_value(f.value),
                f"{f.op} {fmt_value(f.threshold)}" if f.op else "",
                md_with_code(" ".join((f.reason if f.status == "skip" and f.reason else f.message).split())),
            ]
            for f in host.findings
        ]
        out += ["Chain of checks:", "", table(rows, ["check", "result", "value", "threshold", "detail"]), ""]
    processes = host.sample.processes if host.sample else ()
    if processes:
        named = {c.pid for c in host.verdict.culprits} if host.verdict else set()
        rows = [
            [
                p.pid,
                Markdown(md_code(p.comm) + (" (culprit)" if p.pid in named else "")),
                _with_children(p.minflt_per_s, p.children_minflt_per_s),
                _with_children(p.majflt_per_s, p.children_majflt_per_s),
                fmt_kib(p.rss_kib),
                fmt_kib(p.swap_kib),
                # the unit, pod or container a user knows, else the path (the JSON and CSV keep both)
                p.workload.label if p.workload and p.workload.named else (p.cgroup or ""),
            ]
            for p in processes[:PROCESS_ROWS]
        ]
        headers = ["pid", "comm", "minor/s", "major/s", "RSS", "swap", "cgroup"]
        out += [f"Top {len(rows)} processes:", "", table(rows, headers), ""]
    return "\n".join(out)


def host_details(run: RunResult, fleet: FleetView, ranked: pd.DataFrame) -> list[str]:
    """Details of the evaluated hosts whose verdict is not ok, worst first, capped; ok hosts in one line."""
    evaluated = ranked[ranked["state"].eq("ok")]
    chosen = evaluated[evaluated["verdict"].ne("ok")]
    quiet = evaluated[evaluated["verdict"].eq("ok")]
    out = ["## Host details", ""]
    if not quiet.empty:
        out += [
            f"{len(quiet):,} ok host(s) ({escape_markdown(shorten(fold_hosts(quiet['host']), 60))}): "
            "every check passed, "
            f"major/s at most {fmt_rate(quiet['majflt_per_s'].max())}, minor/s at most "
            f"{fmt_rate(quiet['minflt_per_s'].max())}; their checks are in findings.csv.",
            "",
        ]
        names = set(quiet["host"])  # once: built per host, it made 2,000 hosts cost 30 s (4 M lookups)
        out += _spikes([h for h in run.hosts if h.host in names])
    if chosen.empty:
        return out
    if len(chosen) > DETAIL_CAP:
        out += [f"The {DETAIL_CAP} worst of {len(chosen):,} hosts with a verdict other than ok.", ""]
    details = (run.detail(name) for name in chosen["host"].head(DETAIL_CAP))  # read back, one at a time
    out += [host_section(host) for host in details if host is not None]
    if len(chosen) > DETAIL_CAP:
        rest = len(chosen) - DETAIL_CAP
        out += [
            f"{rest:,} more hosts with a problem: every host is in hosts.csv, every check in findings.csv.",
            "",
        ]
    return out


def _spikes(hosts: list[HostResult]) -> list[str]:
    """The page-fault spikes of ok hosts: over the guide's per-process lines, at a cost under the
    problem line (issue 16). Shown, so a reader who wants the guide's counts sees who crossed them."""
    found = [
        (h.host, f.message)
        for h in hosts
        for f in h.findings
        if f.check == "spike" and f.status == "fail" and f.severity == "info"
    ]
    if not found:
        return []
    out = [f"Page-fault spikes on {len(found):,} ok host(s), not problems (they cost little time):", ""]
    out += [f"- {md_cell(host)}: {md_cell(message)}" for host, message in found[:DETAIL_CAP]]
    if len(found) > DETAIL_CAP:
        out.append(f"- {len(found) - DETAIL_CAP:,} more: every check is in findings.csv")
    return [*out, ""]


def metadata_table(run: RunResult, fleet: FleetView) -> str:
    meta = run.metadata()
    groups = fleet.hosts["group"].value_counts().sort_index()
    rows = [
        ["playbook", meta["playbook"]],
        ["inventory", ", ".join(meta["inventory"]) or "implicit localhost"],
        ["limit", meta["limit"] or "all"],
        ["hosts", f"{len(fleet.hosts):,} ({', '.join(f'{g} {n:,}' for g, n in groups.items())})"],
        ["interval", f"{meta['interval_s']} s" if meta["interval_s"] is not None else "n/a"],
        ["started", meta["started"]],
        ["finished", meta["finished"] or "not finished"],
        ["interrupted", "yes" if meta["interrupted"] else "no"],
        ["pfdiag", meta["version"]],
        ["command", "pfdiag " + " ".join(meta["argv"])],
    ]
    return table(rows, ["run", "value"])


def _with_children(own: float | None, children: float | None) -> str:
    """A process's rate, and its reaped children's when they faulted.

    >>> _with_children(2300.0, 210000.0), _with_children(5.0, 0.0)
    ('2,300 + 210,000 children', '5.0')
    """
    if not children:
        return fmt_rate(own)
    return f"{fmt_rate(own)} + {fmt_rate(children)} children"
