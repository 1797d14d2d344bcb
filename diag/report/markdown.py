"""The markdown report for on-call: headline first, then verdicts, per-host evidence, run metadata.

Input is a ``RunResult``; output is GitHub/GitLab-flavoured markdown (tables via tabulate's ``github``
format) that also reads well as plain text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tabulate import tabulate

from diag.findings import HostResult, RunResult, Severity
from diag.report.cells import culprit_label, fmt_kib, fmt_rate, fmt_value, md_cell, md_code

PROBLEM_ORDER = ("major-swap", "major-file", "minor-storm", "not-evaluable")


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    cells = [[md_cell(c) for c in row] for row in rows]
    return tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True)


def _severity(host: HostResult) -> int:
    if not host.verdict:
        return -1
    try:
        return int(Severity.parse(host.verdict.severity))
    except ValueError:
        return 0


def headline(run: RunResult) -> str:
    """A few sentences: what is wrong, where, how bad, what to do first."""
    total = len(run.hosts)
    evaluated = [h for h in run.hosts if h.status == "ok"]
    sick = sorted(
        (h for h in evaluated if h.verdict and h.verdict.code not in ("ok", "not-evaluable")),
        key=lambda h: (-_severity(h), -(h.rates.get("majflt_per_s") or 0), h.host),
    )
    broken = [h for h in run.hosts if h.status != "ok"]
    lines: list[str] = []
    if not sick:
        lines.append(f"**No page-fault problem found** on {len(evaluated)} of {total} host(s).")
    else:
        by_code = Counter(h.verdict.code for h in sick if h.verdict)
        parts = [
            f"{n} {code}" for code, n in sorted(by_code.items(), key=lambda kv: PROBLEM_ORDER.index(kv[0]))
        ]
        lines.append(f"**{len(sick)} of {total} host(s) have a page-fault problem:** {', '.join(parts)}.")
        worst = sick[0]
        assert worst.verdict is not None
        culprit = (
            f" Top culprit: {md_code(culprit_label(worst.verdict.culprits[0]))}."
            if worst.verdict.culprits
            else ""
        )
        lines.append(
            f"Worst: **{worst.host}**, {worst.verdict.code} ({worst.verdict.severity}): "
            f"{' '.join(worst.verdict.summary.split())}.{culprit}"
        )
        if worst.remediation:
            lines.append(f"First: {worst.remediation[0].title.rstrip('.')}.")
    not_evaluable = [h for h in evaluated if h.verdict and h.verdict.code == "not-evaluable"]
    if not_evaluable:
        lines.append(f"{len(not_evaluable)} host(s) could not be evaluated from their counters.")
    if broken:
        states = Counter(h.status for h in broken)
        lines.append(
            f"{len(broken)} host(s) did not complete: "
            + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
            + "."
        )
    if run.interrupted:
        lines.append("**The run was interrupted**: only the hosts listed finished.")
    return " ".join(lines)


def verdict_table(run: RunResult) -> str:
    rows = []
    for h in sorted(run.hosts, key=lambda h: (-_severity(h), h.host)):
        psi = (h.sample or {}).get("psi") or {}
        top = h.verdict.culprits[0] if h.verdict and h.verdict.culprits else None
        rows.append(
            [
                h.host,
                h.status,
                h.verdict.code if h.verdict else "-",
                h.verdict.severity if h.verdict else "-",
                fmt_rate(h.rates.get("minflt_per_s")) if h.status == "ok" else "",
                fmt_rate(h.rates.get("majflt_per_s")) if h.status == "ok" else "",
                fmt_rate(h.rates.get("pswpin_per_s")) if h.status == "ok" else "",
                fmt_rate(psi.get("memory_some_pct")) if h.status == "ok" else "",
                culprit_label(top) if top else (h.reason or ""),
            ]
        )
    headers = [
        "host",
        "state",
        "verdict",
        "severity",
        "minor/s",
        "major/s",
        "swap-in/s",
        "PSI mem %",
        "top culprit",
    ]
    return _table(rows, headers)


def host_section(host: HostResult) -> str:
    """Per-host details: the chain of checks (value vs threshold), top processes, remediation."""
    title = host.verdict.code if host.verdict else host.status
    out = [f"### {host.host}: {title}", ""]
    if host.status != "ok":
        out += [f"State **{host.status}**: {host.reason or 'no reason recorded'}", ""]
    if host.verdict:
        out += [" ".join(host.verdict.summary.split()), ""]
    if host.findings:
        rows: list[list[Any]] = [
            [
                f.check,
                f.status,
                fmt_value(f.value),
                f"{f.op} {fmt_value(f.threshold)}" if f.op else "",
                f.reason if f.status == "skip" and f.reason else f.message,
            ]
            for f in host.findings
        ]
        out += ["Chain of checks:", "", _table(rows, ["check", "result", "value", "threshold", "detail"]), ""]
    if host.top_processes:
        rows = [
            [
                p.get("pid"),
                md_code(p.get("comm", "")),
                fmt_rate(p.get("minflt_per_s")),
                fmt_rate(p.get("majflt_per_s")),
                fmt_kib(p.get("rss_kib")),
                fmt_kib(p.get("swap_kib")),
                fmt_kib(p.get("lck_kib")),
                p.get("cgroup") or "",
            ]
            for p in host.top_processes[:10]
        ]
        headers = ["pid", "comm", "minor/s", "major/s", "RSS", "swap", "VmLck", "cgroup"]
        out += ["Top processes:", "", _table(rows, headers), ""]
    for rem in host.remediation:
        out += [f"**Remediation: {rem.title}**", "", " ".join(rem.text.split()), ""]
        if rem.commands:
            out += ["```sh", *rem.commands, "```", ""]
    not_evaluable = (host.sample or {}).get("not_evaluable") or {}
    if not_evaluable:
        out += ["Not evaluable here:", ""]
        out += [f"- {name}: {reason}" for name, reason in sorted(not_evaluable.items())]
        out.append("")
    return "\n".join(out)


def metadata_table(run: RunResult) -> str:
    meta = run.metadata()
    rows = [
        ["playbook", meta["playbook"]],
        ["inventory", ", ".join(meta["inventory"]) or "implicit localhost"],
        ["limit", meta["limit"] or "all"],
        ["interval", f"{meta['interval_s']} s" if meta["interval_s"] is not None else "n/a"],
        ["started", meta["started"]],
        ["finished", meta["finished"] or "not finished"],
        ["pfdiag", meta["version"]],
        ["command", " ".join(meta["argv"])],
    ]
    return _table(rows, ["run", "value"])


def render_markdown(run: RunResult) -> str:
    """The whole report."""
    ordered = sorted(run.hosts, key=lambda h: (-_severity(h), h.host))
    parts = [
        f"# Page-fault triage: {run.playbook}",
        "",
        headline(run),
        "",
        "## Verdicts",
        "",
        verdict_table(run),
        "",
        "## Hosts",
        "",
        *[host_section(h) for h in ordered],
        "## Run",
        "",
        metadata_table(run),
        "",
    ]
    return "\n".join(parts)
