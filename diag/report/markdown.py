"""The markdown report for on-call: headline and verdict table first, then outliers, fleet-wide
culprits, remediation by verdict, hosts not evaluated, per-host details, run metadata.

In: a ``RunResult`` (aggregated once by ``diag.fleet.build_fleet``) and the chart files, if any. Out:
GitHub/GitLab-flavoured markdown (tables via tabulate's ``github`` format) that reads as plain text.
Long sections are ranked and capped; the full data is in the CSV/JSON exports. Deterministic: the
only times in it are the run's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from diag.findings import RunResult
from diag.fleet import (
    KEY_RATES,
    MIN_PEERS,
    PROBLEM_VERDICTS,
    VERDICT_ORDER,
    Z_CUTOFF,
    FleetView,
    build_fleet,
    verdict_rank,
)
from diag.report.cells import fmt_rate, md_code
from diag.report.deepdive import deepdive_section
from diag.report.details import host_details, metadata_table, not_evaluated, table
from diag.report.usual import headline_sentence
from diag.shared.escape import escape_markdown, md_fence
from diag.shared.hostlist import fold_hosts, shorten
from diag.shared.units import plural as _plural

TOP_N = 20  # rows of the outlier and culprit tables
RATE_LABELS = {
    "majflt_per_s": "major faults/s",
    "minflt_per_s": "minor faults/s",
    "swapin_per_s": "swap-ins (pages/s)",
    "psi_memory_some_pct": "PSI memory some %",
}
SHORT = {"majflt_per_s": "major/s", "minflt_per_s": "minor/s"}


def _ranked(hosts: pd.DataFrame) -> pd.DataFrame:
    """Worst first: severity, verdict (swap before file before minor), major then minor rate, name."""
    order = [verdict_rank(v) for v in hosts["verdict"]]
    return hosts.assign(verdict_rank=order).sort_values(
        ["severity_rank", "verdict_rank", "majflt_per_s", "minflt_per_s", "host"],
        ascending=[False, True, False, False, True],
        na_position="last",
        kind="mergesort",
    )


def headline(run: RunResult, fleet: FleetView) -> str:
    """A few sentences: what is wrong, where, how bad, what to do first."""
    hosts = fleet.hosts
    total = len(hosts)
    sick = _ranked(hosts[hosts["verdict"].isin(PROBLEM_VERDICTS)])
    out: list[str] = []
    if sick.empty:
        evaluated = int(hosts["verdict"].isin(["ok"]).sum())
        pct = fleet.percentiles
        out.append(
            f"**No page-fault problem** on {evaluated:,} of {_plural(total, 'host')}: "
            f"major faults/s p50 {fmt_rate(pct.at['majflt_per_s', 'p50'])}, "
            f"max {fmt_rate(pct.at['majflt_per_s', 'max'])}; minor faults/s p50 "
            f"{fmt_rate(pct.at['minflt_per_s', 'p50'])}, max {fmt_rate(pct.at['minflt_per_s', 'max'])}."
        )
    else:
        counts = sick["verdict"].value_counts()
        parts = [
            f"{counts[v]:,} {v} ({sick.loc[sick['verdict'].eq(v), 'severity'].iloc[0]})"
            for v in PROBLEM_VERDICTS
            if v in counts
        ]
        out.append(
            f"**{len(sick):,} of {_plural(total, 'host')} {'has' if len(sick) == 1 else 'have'} a page-fault "
            f"problem:** {', '.join(parts)}."
        )
        worst = sick.iloc[0]
        same = sick.loc[sick["verdict"].eq(worst["verdict"]), "host"]
        culprit = f", top culprit {md_code(worst['top_culprit'])}" if worst["top_culprit"] else ""
        if culprit and isinstance(worst["top_workload"], str):
            culprit += f" in {md_code(worst['top_workload'])}"
        out.append(
            f"Worst: **{worst['verdict']}** on {escape_markdown(shorten(fold_hosts(same), 60))} "
            f"({escape_markdown(worst['host'])}: {fmt_rate(worst['majflt_per_s'])} major/s, "
            f"{fmt_rate(worst['minflt_per_s'])} minor/s, "
            f"{fmt_rate(worst['swapin_per_s'])} swap-ins/s{culprit})."
        )
        spread = fleet.culprits[fleet.culprits["hosts"] >= 2]
        if not spread.empty:
            top = spread.iloc[0]
            out.append(f"Most widespread: {_culprit_sentence(top)}.")
        first = run.detail(worst["host"])  # read back: the run may hold its hosts in brief
        if first is not None and first.remediation:
            title = escape_markdown(first.remediation[0].title.rstrip("."))
            out.append(f"First: {title} on {escape_markdown(shorten(fold_hosts(same), 60))}.")
    if not fleet.outliers.empty:
        names = shorten(fold_hosts(fleet.outliers["host"]), 50)
        out.append(
            f"{_plural(len(fleet.outliers), 'host')} stand out from their peers ({escape_markdown(names)})."
        )
    unknown = hosts[~hosts["judged"]]
    if not unknown.empty:
        why = unknown["verdict"].where(unknown["state"].eq("ok"), unknown["state"]).value_counts()
        parts = [f"{n} {state}" for state, n in sorted(why.items(), key=lambda kv: (-kv[1], kv[0]))]
        out.append(f"{_plural(len(unknown), 'host')} could not be evaluated: {', '.join(parts)}.")
    if usual := headline_sentence(run):
        out.append(usual)
    if run.interrupted:
        out.append("**The run was interrupted**: only the hosts listed finished.")
    return " ".join(out)


def _culprit_sentence(row: pd.Series) -> str:
    scope = escape_markdown(row["scope"])  # an inventory group's name
    return f"{md_code(row['comm'])} {row['verdict']} on {row['hosts']} of {row['of_hosts']} {scope}"


def _share(part: int, total: int) -> str:
    """Percent of the fleet; never "0 %" for a host that is there.

    >>> _share(1, 1000), _share(974, 1000)
    ('<1 %', '97 %')
    """
    pct = 100 * part / total
    return "<1 %" if 0 < pct < 0.5 else f"{pct:.0f} %"


def verdict_table(fleet: FleetView) -> str:
    """Hosts per verdict (evaluated hosts) and per state (the others), with rates and culprits."""
    hosts = fleet.hosts
    total = len(hosts)
    rows = []
    ok = hosts[hosts["state"].eq("ok")]
    for verdict in [*VERDICT_ORDER, *sorted(set(ok["verdict"].dropna()) - set(VERDICT_ORDER))]:
        part = ok[ok["verdict"].eq(verdict)]
        if part.empty:
            continue
        comms = fleet.processes.loc[
            fleet.processes["culprit"] & fleet.processes["host"].isin(part["host"]), "comm"
        ].value_counts()
        rows.append(
            [
                verdict,
                part["severity"].iloc[0] or "",
                f"{len(part):,}",
                _share(len(part), total),
                shorten(fold_hosts(part["host"]), 50),
                f"{fmt_rate(part['majflt_per_s'].median())} / {fmt_rate(part['majflt_per_s'].max())}",
                f"{fmt_rate(part['minflt_per_s'].median())} / {fmt_rate(part['minflt_per_s'].max())}",
                ", ".join(f"{comm} ({n})" for comm, n in comms.head(3).items()),
            ]
        )
    for state, part in hosts[hosts["state"].ne("ok")].groupby("state", sort=True):
        rows.append(
            [f"not run: {state}", "", f"{len(part):,}", _share(len(part), total),
             shorten(fold_hosts(part["host"]), 50), "", "", ""]
        )  # fmt: skip
    headers = [
        "verdict",
        "severity",
        "hosts",
        "share",
        "which",
        "major/s p50 / max",
        "minor/s p50 / max",
        "culprits",
    ]
    return table(rows, headers)


def rates_section(fleet: FleetView, plots: Sequence[str]) -> list[str]:
    limits = fleet.thresholds()
    rows = [
        [RATE_LABELS[str(rate)], f"{int(row['hosts']):,}", fmt_rate(row["p50"]), fmt_rate(row["p95"]),
         fmt_rate(row["max"]), fmt_rate(limits[rate]) if rate in limits else ""]
        for rate, row in fleet.percentiles.loc[list(KEY_RATES)].iterrows()
    ]  # fmt: skip
    out = ["## Fleet rates", "", table(rows, ["rate", "hosts", "p50", "p95", "max", "host threshold"]), ""]
    for path in plots:
        out += [f"![{Path(path).stem}]({path})", ""]
    return out


def outliers_section(fleet: FleetView) -> list[str]:
    major, minor = fleet.floors["majflt_per_s"], fleet.floors["minflt_per_s"]
    floors = f"{fmt_rate(major)} major/s or {fmt_rate(minor)} minor/s"
    rule = (
        "A host stands out when the robust z-score of log(1 + rate) against its peers -- "
        "0.6745 x (x - median) / MAD, the Iglewicz-Hoaglin modified z-score -- "
        f"is above {Z_CUTOFF} and its rate is at least {floors}. Peers are the hosts of its first "
        f"inventory group, or the whole fleet when the group has fewer than {MIN_PEERS} evaluated hosts."
    )
    out = ["## Outliers", "", rule, ""]
    found = fleet.outliers
    if found.empty:
        return [*out, "No host stands out from its peers.", ""]
    rows = [
        [r["host"], r["peers"], r["verdict"] or "", *(v for rate in SHORT for v in _rate_cells(r, rate))]
        for _, r in found.head(TOP_N).iterrows()
    ]
    headers = ["host", "compared with", "verdict"]
    headers += [h for rate in SHORT.values() for h in (rate, "z", "x median")]
    out += [table(rows, headers), ""]
    if len(found) > TOP_N:
        out += [f"{len(found) - TOP_N:,} more in hosts.csv (column `outlier`).", ""]
    return out


def _rate_cells(row: pd.Series, rate: str) -> list[str]:
    return [fmt_rate(row[rate]), _z(row[f"{rate}_z"]), _times(row[f"{rate}_x_median"])]


def _z(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.1f}"


def _times(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:,.1f}x"


def culprits_section(fleet: FleetView) -> list[str]:
    out = ["## Fleet-wide culprits", ""]
    groups = fleet.culprits
    if groups.empty:
        return [*out, "No process was named as a culprit.", ""]
    out += ["Processes the verdicts named, grouped by command and verdict, most hosts first.", ""]
    rows = [
        [md_code(r["comm"]), r["verdict"], f"{r['hosts']} of {r['of_hosts']} {r['scope']}",
         shorten(r["host_range"], 50), SHORT.get(r["rate"], r["rate"]),
         fmt_rate(r["median"]), fmt_rate(r["max"])]
        for _, r in groups.head(TOP_N).iterrows()
    ]  # fmt: skip
    out += [table(rows, ["command", "verdict", "on", "which", "rate", "median", "max"]), ""]
    if len(groups) > TOP_N:
        out += [
            f"{len(groups) - TOP_N:,} more command/verdict pairs in processes.csv (column `culprit`).",
            "",
        ]
    return out


def workloads_section(fleet: FleetView) -> list[str]:
    """Named workloads across hosts (replicas of a pod as one row), their faults summed: memory.stat
    counts those of processes that exited too. Left out when no host named one."""
    groups = fleet.workloads
    if groups.empty:
        return []
    out = ["## Workloads", "", "Pods, units and containers by their faults over the fleet, most first.", ""]
    rows = [
        [md_code(r["workload"]), f"{r['hosts']} of {r['of_hosts']}", shorten(r["host_range"], 50),
         str(int(r["culprit_hosts"])), fmt_rate(r["minflt_per_s"]), fmt_rate(r["majflt_per_s"])]
        for _, r in groups.head(TOP_N).iterrows()
    ]  # fmt: skip
    out += [table(rows, ["workload", "on", "which", "culprit on", "minor/s in all", "major/s in all"]), ""]
    if len(groups) > TOP_N:
        out += [f"{len(groups) - TOP_N:,} more in the JSON (`summary.workloads`).", ""]
    return out


def remediation_section(run: RunResult, fleet: FleetView) -> list[str]:
    """Per problem verdict: the hosts, the remediation once, the failed checks once with their host range."""
    out = ["## Remediation by verdict", ""]
    ranked = _ranked(fleet.hosts)
    any_problem = False
    for verdict in PROBLEM_VERDICTS:
        part = ranked[ranked["verdict"].eq(verdict) & ranked["state"].eq("ok")]
        if part.empty:
            continue
        any_problem = True
        worst = run.detail(part["host"].iloc[0])
        assert worst is not None  # a row of fleet.hosts is a host of the run
        which = escape_markdown(shorten(fold_hosts(part["host"]), 60))
        out += [f"### {verdict}: {_plural(len(part), 'host')} ({which})", ""]
        for rem in worst.remediation:
            text = escape_markdown(" ".join(rem.text.split()))
            title = escape_markdown(rem.title.rstrip("."))
            out += [f"**{title}.** Evidence from {escape_markdown(worst.host)}, the worst: {text}", ""]
            if rem.commands:
                out += [*md_fence(list(rem.commands), "sh"), ""]
        evidence = fleet.finding_groups[fleet.finding_groups["verdict"].eq(verdict)]
        rows = [
            [r["check"], f"{r['hosts']:,}", shorten(r["host_range"], 40),
             fmt_rate(r["p50"]), fmt_rate(r["max"]),
             f"{r['op']} {fmt_rate(r['threshold'])}" if isinstance(r["op"], str) else ""]
            for _, r in evidence.iterrows()
        ]  # fmt: skip
        if rows:
            headers = ["check that failed", "hosts", "which", "value p50", "value max", "threshold"]
            out += ["Checks that failed on these hosts:", "", table(rows, headers), ""]
    if not any_problem:
        out += ["Nothing to remediate: no host has a page-fault problem.", ""]
    return out


def render_markdown(run: RunResult, fleet: FleetView | None = None, plots: Sequence[str] = ()) -> str:
    """The whole report; ``plots`` are chart paths relative to the report, linked under Fleet rates."""
    fleet = fleet if fleet is not None else build_fleet(run)
    parts = [
        f"# Page-fault triage: {Path(run.playbook).name} on {_plural(len(fleet.hosts), 'host')}",
        "",
        headline(run, fleet),
        "",
        "## Verdicts",
        "",
        verdict_table(fleet),
        "",
        *rates_section(fleet, plots),
        *outliers_section(fleet),
        *culprits_section(fleet),
        *workloads_section(fleet),
        *remediation_section(run, fleet),
        *deepdive_section(run),
        *not_evaluated(run, fleet),
        *host_details(run, fleet, _ranked(fleet.hosts)),
        "## Run",
        "",
        metadata_table(run, fleet),
        "",
    ]
    return "\n".join(parts)
