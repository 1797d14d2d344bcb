"""Is this normal for these hosts? The sentences the terminal and report.md say about the baselines.

In: a ``RunResult`` whose hosts carry a ``Baseline`` (``diag.history.baseline`` set it when the run
read a history) and its ``history_note``. Out: text: the headline's sentence, the terminal's lines.
A run that consulted no history (a replay, a run of an older pfdiag) gets nothing, so its report is
unchanged. The fleet's outliers (peers, not past) are another section and stay as they are.
"""

from __future__ import annotations

from diag.findings import Baseline, RunResult
from diag.shared.escape import escape_terminal
from diag.shared.hostlist import fold_hosts, shorten

ABOVE_SHOWN = 20  # hosts above their usual named one per line in the terminal
ABOVE_IN_HEADLINE = 3


def _compared(run: RunResult) -> list[tuple[str, Baseline]]:
    return [(h.host, h.baseline) for h in run.hosts if h.baseline is not None]


def headline_sentence(run: RunResult) -> str:
    """What report.md's headline says of the hosts against their own audits ('' without a history).

    One host: its sentence ("Against its own audits: usual for this host (...)"). A fleet: the hosts
    above their usual first, by name and sentence, then how many are usual and how many have no history.
    """
    if run.history_note is None:
        return ""
    compared = _compared(run)
    if not compared:
        return f"Baseline: {run.history_note}."
    if len(run.hosts) == 1:
        return f"Against its own audits: {compared[0][1].summary}."
    above = [(host, b) for host, b in compared if b.status == "above"]
    out = [f"{host}: {b.summary}" for host, b in above[:ABOVE_IN_HEADLINE]]
    if len(above) > ABOVE_IN_HEADLINE:
        out.append(f"{len(above) - ABOVE_IN_HEADLINE:,} more above their usual")
    for status, words in (
        ("usual", "usual for the host"),
        ("few-audits", "too few audits"),
        ("no-history", "no history"),
    ):
        names = [host for host, b in compared if b.status == status]
        if names:
            out.append(f"{len(names):,} {words} ({shorten(fold_hosts(names), 50)})")
    days = compared[0][1].days
    return f"Against their own audits of the last {days:g} days: " + "; ".join(out) + "."


def terminal_lines(run: RunResult) -> list[str]:
    """``baseline: <note>`` once, then each host above its usual with its sentence (capped); escaped, as
    everything the terminal shows of a host."""
    if run.history_note is None:
        return []
    lines = [f"baseline: {escape_terminal(run.history_note)}"]  # the note names the history's path
    above = [(host, b) for host, b in _compared(run) if b.status == "above"]
    lines += [f"  {escape_terminal(host)}: {b.summary}" for host, b in above[:ABOVE_SHOWN]]
    if len(above) > ABOVE_SHOWN:
        lines.append(f"  {len(above) - ABOVE_SHOWN:,} more hosts above their usual: see report.md")
    return lines
