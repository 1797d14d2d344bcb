"""The terminal view of a run: one row per host, why hosts failed, an Ansible-style recap, totals.

Input is a ``RunResult``; output is plain text (tabulate's ``simple`` format), no colour codes: what
came from a host (names, reasons, process names) is shown escaped (``diag.shared.escape``), one line each.
"""

from __future__ import annotations

from collections import Counter

from tabulate import tabulate

from diag.findings import HOST_STATES, UNREACHABLE_STATES, VERDICT_CODES, HostResult, RunResult
from diag.probe.measurements import Rates
from diag.probe.pressure import Psi
from diag.report.cells import culprit_label, fmt_rate
from diag.report.usual import terminal_lines
from diag.shared.escape import escape_terminal

COLUMNS = ("host", "status", "verdict", "minor/s", "major/s", "swap-in/s", "PSI mem %", "top culprit")
BASELINE_COLUMN = "vs. its audits"  # shown when the run compared its hosts with a readable history


def host_row(host: HostResult) -> list[str]:
    """The cells of one host's row (escaped); unreachable and failed hosts show their reason instead
    of rates."""
    return [escape_terminal(cell) for cell in _cells(host)]


def _cells(host: HostResult) -> list[str]:
    rates = host.sample.rates if host.sample else Rates()
    psi = host.sample.psi if host.sample else Psi()
    verdict = host.verdict.code if host.verdict else "-"
    if host.status != "ok":
        return [host.host, host.status, verdict, "", "", "", "", _short(host.reason or "", 60)]
    top = host.verdict.culprits[0] if host.verdict and host.verdict.culprits else None
    return [
        host.host,
        host.status,
        verdict,
        fmt_rate(rates.minflt_per_s),
        fmt_rate(rates.majflt_per_s),
        fmt_rate(rates.swapin_per_s),  # pswpin + zswpin: the swap-ins the verdict is about
        fmt_rate(psi.memory_some_pct),
        culprit_label(top, verdict) if top else "",
    ]


def render_recap(run: RunResult) -> str:
    """``PLAY RECAP``: per host task counts and state, as ansible-playbook prints them."""
    names = {h.host: escape_terminal(h.host) for h in run.hosts}
    width = max((len(name) for name in names.values()), default=4)
    lines = ["PLAY RECAP " + "*" * 60]
    for host in run.hosts:
        stats = host.task_stats
        unreachable = int(host.status in UNREACHABLE_STATES)
        lines.append(
            f"{names[host.host]:<{width}} : ok={stats.get('ok', 0):<4} failed={stats.get('failed', 0):<4} "
            f"skipped={stats.get('skipped', 0):<4} ignored={stats.get('ignored', 0):<4} "
            f"unreachable={unreachable}  state={host.status}"
            + (f" verdict={host.verdict.code}" if host.verdict else "")
        )
    return "\n".join(lines)


def render_totals(run: RunResult) -> str:
    """Hosts per verdict and per state: ``17 host(s): 8 ok, 1 major-swap, 2 unreachable``."""
    counts: Counter[str] = Counter()
    for host in run.hosts:
        counts[host.verdict.code if host.status == "ok" and host.verdict else host.status] += 1
    order = [*VERDICT_CODES, *(s for s in HOST_STATES if s != "ok")]
    parts = [f"{counts[key]} {key}" for key in order if counts[key]]
    return f"{len(run.hosts)} host(s): " + ", ".join(parts)


def render_problems(run: RunResult) -> str:
    """The full reason of every host that did not complete, as ansible's ``fatal:`` lines give it."""
    return "\n".join(
        escape_terminal(
            f"{host.status}: [{host.host}] {' '.join((host.reason or 'no reason recorded').split())}"
        )
        for host in run.hosts
        if host.status != "ok"
    )


def render_terminal(run: RunResult) -> str:
    """The fleet table, the reasons of hosts that did not complete, the recap, and the totals."""
    rows = [host_row(h) for h in run.hosts]
    headers: tuple[str, ...] = COLUMNS
    if any(h.baseline is not None for h in run.hosts):
        headers = (*COLUMNS, BASELINE_COLUMN)
        rows = [
            [*row, h.baseline.label if h.baseline else ""] for row, h in zip(rows, run.hosts, strict=True)
        ]
    table = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
    parts = [table, ""]
    problems = render_problems(run)
    if problems:
        parts += [problems, ""]
    parts += [render_recap(run), "", render_totals(run)]
    parts += terminal_lines(run)
    if run.interrupted:
        parts.append("INTERRUPTED: the hosts above finished; the others were not run to the end.")
    if run.run_dir:
        parts.append(f"report: {escape_terminal(run.run_dir)}/report.md")
    return "\n".join(parts)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
