"""Writes a finished run's report files: ``report.md`` in the run folder, the ``--json`` export, the
``--csv DIR`` exports and the ``--plots`` charts (``plots/*.png`` next to the report, linked from it).

Input is a ``RunResult``; output is files, written by ``diag.shared.files`` (temp file + rename) so a crash
never leaves half a report. The run is aggregated once (``diag.fleet.build_fleet``) and every file is
rendered from that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from diag.findings import RunResult
from diag.fleet import FleetView, build_fleet
from diag.report.csv_export import write_csvs
from diag.report.markdown import render_markdown
from diag.runs.owner import PLOTS_DIR
from diag.shared.files import json_text, write_chunks, write_text

__all__ = ["fleet_json", "json_chunks", "render_json", "run_to_json", "write_reports"]

JSON_SCHEMA_VERSION = 1
PRETTY_JSON_HOSTS = 100
JSON_SLICE_HOSTS = 1000
SCORES = ["peers", "majflt_per_s_z", "majflt_per_s_x_median", "minflt_per_s_z", "minflt_per_s_x_median"]


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as dicts with None (JSON null) for missing values."""
    part = frame[columns].astype(object)
    return [{str(k): v for k, v in r.items()} for r in part.where(part.notna(), None).to_dict("records")]


def fleet_json(fleet: FleetView) -> dict[str, Any]:
    """The fleet-level additions to the JSON document: rate percentiles, outliers, cross-host culprits,
    named workloads across hosts."""
    percentiles = fleet.percentiles.astype(object)
    return {
        "rates": {
            str(k): v for k, v in percentiles.where(percentiles.notna(), None).to_dict("index").items()
        },
        "outliers": _records(
            fleet.outliers, ["host", "group", "verdict", "majflt_per_s", "minflt_per_s", *SCORES]
        ),
        "culprits": _records(fleet.culprits, list(fleet.culprits.columns)),
        "workloads": _records(fleet.workloads, list(fleet.workloads.columns)),
    }


def run_to_json(run: RunResult, fleet: FleetView | None = None) -> dict[str, Any]:
    """The complete result: ``{"schema", "run", "summary", "hosts": {name: HostResult.to_dict()}}``.

    Added to that shape (never renamed): ``summary.rates`` (p50/p95/max of the key rates),
    ``summary.outliers`` and ``summary.culprits`` (see ``fleet_json``), and per host ``fleet``:
    its group, the peers it was compared with, robust z-scores and the outlier flag.
    """
    fleet = fleet if fleet is not None else build_fleet(run)
    return {**_json_head(run, fleet), "hosts": dict(_json_hosts(run, fleet))}


def _json_head(run: RunResult, fleet: FleetView) -> dict[str, Any]:
    """The document without its hosts: read from the hosts in brief."""
    verdicts: dict[str, int] = {}
    states: dict[str, int] = {}
    for host in run.hosts:
        states[host.status] = states.get(host.status, 0) + 1
        if host.verdict:
            verdicts[host.verdict.code] = verdicts.get(host.verdict.code, 0) + 1
    return {
        "schema": JSON_SCHEMA_VERSION,
        "run": run.metadata(),
        "summary": {"hosts": len(run.hosts), "states": states, "verdicts": verdicts, **fleet_json(fleet)},
    }


def _json_hosts(run: RunResult, fleet: FleetView) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each host's entry, its whole result read back one at a time (``RunResult.each_detail``)."""
    columns = ["group", *SCORES, "outlier"]
    scores = (  # a slice at a time: all hosts' score dicts at once are ~1 KB a host
        score
        for start in range(0, len(fleet.hosts), JSON_SLICE_HOSTS)
        for score in _records(fleet.hosts.iloc[start : start + JSON_SLICE_HOSTS], columns)
    )
    for host, score in zip(run.each_detail(), scores, strict=True):
        yield host.host, {**host.to_dict(), "fleet": score}


def json_chunks(run: RunResult, fleet: FleetView | None = None) -> Iterator[str]:
    """The JSON document as text: indented up to ``PRETTY_JSON_HOSTS`` hosts, compact above (Python's
    C encoder only runs without indent: 1,000 hosts take a fifth of the time), and then a host at a
    time, the very text ``json.dumps`` gives of the whole document, which is never held whole."""
    fleet = fleet if fleet is not None else build_fleet(run)
    if len(run.hosts) <= PRETTY_JSON_HOSTS:
        yield json_text(run_to_json(run, fleet), indent=2) + "\n"
        return
    empty = json_text({**_json_head(run, fleet), "hosts": {}})
    yield empty[: -len("}}")]  # ... "hosts": {
    for n, (name, entry) in enumerate(_json_hosts(run, fleet)):
        yield f"{', ' if n else ''}{json_text(name)}: {json_text(entry)}"
    yield "}}\n"


def render_json(run: RunResult, fleet: FleetView | None = None) -> str:
    """The JSON document as one text (``json_chunks``)."""
    return "".join(json_chunks(run, fleet))


def write_reports(
    run: RunResult,
    run_dir: Path,
    *,
    json_path: Path | None = None,
    csv_dir: Path | None = None,
    plots: bool = False,
) -> list[Path]:
    """``report.md`` always; JSON, CSVs and charts when asked. Returns the paths written."""
    fleet = build_fleet(run)
    written: list[Path] = []
    if plots:
        from diag.report.plots import write_plots

        written += write_plots(fleet, run_dir / PLOTS_DIR)
    links = [path.relative_to(run_dir).as_posix() for path in written]
    report = run_dir / "report.md"
    write_text(report, render_markdown(run, fleet, plots=links), what="report file")
    written.append(report)
    if json_path is not None:
        write_chunks(json_path, json_chunks(run, fleet), what="report file")
        written.append(json_path)
    if csv_dir is not None:
        written += write_csvs(run, fleet, csv_dir)
    return written
