"""Reports: the terminal table and recap, the markdown report, JSON and CSV exports.

Input is a ``RunResult``; output is text or files in the run folder.
"""

from __future__ import annotations

from pathlib import Path

from diag.findings import RunResult


def render_terminal(run: RunResult) -> str:
    """One row per host plus the recap, for the terminal."""
    from diag.report.terminal import render_terminal as _render

    return _render(run)


def write_reports(run: RunResult, run_dir: Path, *, json_path: Path | None = None) -> list[Path]:
    """Write ``report.md`` (and ``--json`` when asked) for a finished run; return the paths written."""
    from diag.report.files import write_reports as _write

    return _write(run, run_dir, json_path=json_path)
