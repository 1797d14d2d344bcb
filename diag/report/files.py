"""Writes a finished run's report files: ``report.md`` in the run folder and the ``--json`` export.

Input is a ``RunResult``; output is files, written atomically (temp file + rename) so a crash never
leaves half a report.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from diag.findings import RunResult
from diag.report.markdown import render_markdown

JSON_SCHEMA_VERSION = 1


def run_to_json(run: RunResult) -> dict[str, Any]:
    """The complete result: ``{"schema", "run", "summary", "hosts": {name: HostResult.to_dict()}}``."""
    verdicts: dict[str, int] = {}
    states: dict[str, int] = {}
    for host in run.hosts:
        states[host.status] = states.get(host.status, 0) + 1
        if host.verdict:
            verdicts[host.verdict.code] = verdicts.get(host.verdict.code, 0) + 1
    return {
        "schema": JSON_SCHEMA_VERSION,
        "run": run.metadata(),
        "summary": {"hosts": len(run.hosts), "states": states, "verdicts": verdicts},
        "hosts": {host.host: host.to_dict() for host in run.hosts},
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(run: RunResult, run_dir: Path, *, json_path: Path | None = None) -> list[Path]:
    """``report.md`` always; the JSON export when ``json_path`` is given. Returns the paths written."""
    written = []
    report = run_dir / "report.md"
    write_atomic(report, render_markdown(run))
    written.append(report)
    if json_path is not None:
        write_atomic(json_path, json.dumps(run_to_json(run), indent=2, default=str) + "\n")
        written.append(json_path)
    return written
