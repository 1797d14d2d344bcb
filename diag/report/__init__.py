"""Reports: the terminal table and recap, the markdown report, JSON and CSV exports, charts.

Input is a ``RunResult``; output is text or files in the run folder.
"""

from __future__ import annotations

from pathlib import Path

from diag.findings import RunResult


def render_terminal(run: RunResult) -> str:
    """One row per host plus the recap, for the terminal."""
    from diag.report.terminal import render_terminal as _render

    return _render(run)


def render_csv(run: RunResult) -> str:
    """``hosts.csv`` as text (what ``pfdiag report RUN_DIR --format csv`` prints without ``-o``)."""
    from diag.fleet import build_fleet
    from diag.report.csv_export import render_csvs

    return render_csvs(build_fleet(run))["hosts.csv"]


def write_csv(run: RunResult, out_dir: Path) -> list[Path]:
    """``hosts.csv``, ``processes.csv`` and ``findings.csv`` in ``out_dir``; returns their paths."""
    from diag.fleet import build_fleet
    from diag.report.csv_export import write_csvs

    return write_csvs(run, build_fleet(run), out_dir)


def write_reports(
    run: RunResult,
    run_dir: Path,
    *,
    json_path: Path | None = None,
    csv_dir: Path | None = None,
    plots: bool = False,
) -> list[Path]:
    """Write ``report.md`` (and ``--json``, ``--csv DIR``, ``--plots`` when asked); return the paths."""
    from diag.report.files import write_reports as _write

    return _write(run, run_dir, json_path=json_path, csv_dir=csv_dir, plots=plots)
