"""``pfdiag history``: the recorded audits, one audit, a diff of two, a host over time (and its plot).

In: a ``HistoryQuery`` (which question, which history file, table or JSON, where to draw the plot).
Out: a ``HistoryAnswer``, the text to print (``diag.report.history_view``) and the plot written, if
asked. The history file is opened read-only in spirit: nothing is recorded or pruned here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diag.history import history_path
from diag.history.rows import HostPoint
from diag.history.store import History, HistoryError
from diag.report import history_view
from diag.shared.records import to_data

# The triage playbook's host-wide thresholds: what a plot draws when the audit's playbook is gone.
DEFAULT_THRESHOLDS = {"host_majflt_per_s": 500.0, "host_minflt_per_s": 50000.0}


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """One ``pfdiag history`` question; ``command`` None lists the audits.

    ``history`` None: ``$PFDIAG_HISTORY``, else ``reports/history.sqlite`` under ``cwd``.
    """

    command: str | None
    cwd: Path
    history: Path | None = None
    as_json: bool = False
    run_id: int | None = None
    a: int | None = None
    b: int | None = None
    host: str | None = None
    plot: Path | None = None


@dataclass(frozen=True, slots=True)
class HistoryAnswer:
    """The text to print (a table, or JSON) and the PNG written for ``host --plot``."""

    text: str
    plot: Path | None = None


def query_history(query: HistoryQuery) -> HistoryAnswer:
    """Answer ``query`` from the history file; a missing file is an error that says how to make one."""
    path = history_path(query.history, query.cwd)
    if not path.exists():
        raise HistoryError(
            f"no audit history at {str(path)!r}", hint="run `pfdiag audit` first, or give --history"
        )
    with History(path) as history:
        data, text = _answer(history, query)
    return HistoryAnswer(history_view.history_json(data) if query.as_json else text, query.plot)


def _answer(history: History, query: HistoryQuery) -> tuple[Any, str]:
    """The records behind the answer (what ``--json`` prints) and the answer as a table."""
    if query.command == "show":
        assert query.run_id is not None  # the parser requires RUN
        audit = history.run(query.run_id)
        return audit, history_view.show_text(audit)
    if query.command == "diff":
        a, b = query.a, query.b
        if a is None:
            a, b = history.latest_pair()
        elif b is None:
            a, b = history.before(a), a
        diff = history.diff_runs(a, b)
        return {"a": a, "b": b, **to_data(diff)}, history_view.diff_text(a, b, diff)
    if query.command == "host":
        assert query.host is not None  # the parser requires HOST
        rows = history.host_series(query.host)
        if not rows:
            raise HistoryError(f"host {query.host!r} is in no recorded audit")
        if query.plot is not None:
            _plot_host(query.host, rows, query.plot, history)
        return rows, history_view.host_text(rows)
    runs = history.runs()
    return runs, history_view.runs_text(runs)


def _thresholds(playbook: str | None) -> dict[str, float]:
    """The host-wide fault thresholds of the audit's playbook (its play vars), for the plot."""
    found = dict(DEFAULT_THRESHOLDS)
    if not playbook or not os.path.exists(playbook):
        return found
    from diag.playbook.validate import load_playbook

    try:
        plays = load_playbook(Path(playbook)).plays
    except Exception:  # a playbook edited since: the defaults will do for a picture
        return found
    for play in plays:
        for key in found:
            value = play.vars.get(key)
            if isinstance(value, int | float):
                found[key] = float(value)
    return found


def _plot_host(host: str, rows: Sequence[HostPoint], path: Path, history: History) -> None:
    from diag.report.history_plot import plot_host_rates

    run = history.run(rows[-1].run_id)
    plot_host_rates(host, rows, _thresholds(run.playbook), path)
