"""``pfdiag report RUN_DIR`` for a run folder: rendered again, as markdown, JSON or CSV.

In: a ``RerenderRequest`` (the folder, the format, where to write). Out: a ``Rerendered`` (the text for
stdout, whether the folder held its hosts' results) and the file(s) written with ``-o``. The folder is
read by ``diag.runs.store``; what is missing or skipped in it is told through ``warn`` first, and what is
there is rendered all the same. (A saved watch is rendered by ``diag.watch.report``, which comes later in
the pipeline and sends every other folder here.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diag.runs.details import read_run_in_brief
from diag.runs.store import read_run
from diag.shared.errors import ReportError
from diag.shared.escape import escape_lines, escape_terminal
from diag.shared.files import json_text, write_text


def _ignore(line: str) -> None:
    """A ``warn`` for callers that read nothing of what is skipped."""


@dataclass(frozen=True, slots=True)
class RerenderRequest:
    """``output`` None: the text goes to stdout (for csv, ``hosts.csv`` only; with ``-o``, a folder for
    all three). ``escape``: the text is for a terminal (csv then has host text escaped; md and json are
    escaped by their renderers). ``warn`` gets each problem with the folder, one line each."""

    run_dir: Path
    format: str = "md"
    output: Path | None = None
    escape: bool = False
    warn: Callable[[str], None] = _ignore


@dataclass(frozen=True, slots=True)
class Rerendered:
    """What to print on stdout (exactly, no newline added), and whether ``hosts.jsonl`` was there (a
    folder without it shows nothing but the plan: the exit code says so)."""

    text: str
    complete: bool = True


def rerender_run(request: RerenderRequest) -> Rerendered:
    """Render the run folder ``request.run_dir`` again, to stdout's text or to ``request.output``."""
    # each host in brief, its details read back when shown; the JSON prints every host whole anyway
    run, problems = (
        read_run(request.run_dir) if request.format == "json" else read_run_in_brief(request.run_dir)
    )
    for problem in problems:
        request.warn(escape_terminal(problem))
    complete = (request.run_dir / "hosts.jsonl").exists()
    if request.format == "md":
        from diag.report.markdown import render_markdown

        text = render_markdown(run)
    elif request.format == "json":
        from diag.report.files import run_to_json

        text = json_text(run_to_json(run), indent=2) + "\n"
    elif request.output is not None:
        from diag.report import write_csv

        try:
            paths = write_csv(run, request.output)
        except OSError as exc:
            raise ReportError(f"cannot write CSV files into {str(request.output)!r}: {exc}") from None
        return Rerendered("".join(f"{path}\n" for path in paths), complete)
    else:
        from diag.report import render_csv

        text = render_csv(run)
        if request.escape:  # exact in a file or a pipe; on a screen host text must not drive it
            text = escape_lines(text)
    return Rerendered(deliver(request, text), complete)


def deliver(request: RerenderRequest, text: str) -> str:
    """The text for stdout, or "" once it is written to ``-o``."""
    if request.output is None:
        return text
    write_text(request.output, text, what="report")
    return ""
