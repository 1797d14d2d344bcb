"""CSV exports of a run: ``hosts.csv``, ``processes.csv``, ``findings.csv``, one row per host / top
process per host / check per host.

In: a ``FleetView`` (``diag.fleet``). Out: CSV text (RFC 4180 quoting, ``\\n`` line ends, empty cell
for a missing value, ``;`` between list items inside a cell), or the three files in a folder.
Columns (documented in the README): see ``HOSTS_CSV``, ``PROCESSES_CSV`` and ``FINDINGS_CSV``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from diag.findings import RunResult
from diag.fleet import (
    EXTRA_RATE_COLUMNS,
    FINDING_COLUMNS,
    HOST_COLUMNS,
    PROCESS_COLUMNS,
    PROCESS_FRAME_COLUMNS,
    WORKLOAD_COLUMNS,
    FleetView,
    process_rows,
)
from diag.shared.errors import ReportError
from diag.shared.files import write_chunks

OUTLIER_COLUMNS = [
    "peers", "majflt_per_s_z", "majflt_per_s_x_median", "minflt_per_s_z", "minflt_per_s_x_median", "outlier",
]  # fmt: skip
# columns added later go last, so that no documented column moves
HOSTS_CSV = [*HOST_COLUMNS, *OUTLIER_COLUMNS, *EXTRA_RATE_COLUMNS]
PROCESSES_CSV = [*PROCESS_COLUMNS, *WORKLOAD_COLUMNS]
FINDINGS_CSV = FINDING_COLUMNS
# processes.csv is written this many hosts at a time: one frame per host costs ~3 ms of pandas a host
CSV_SLICE_HOSTS = 200


def to_csv(frame: pd.DataFrame, columns: list[str]) -> str:
    """``frame[columns]`` as CSV text; floats as Python prints them, booleans as true/false.

    >>> to_csv(pd.DataFrame({"a": [1.5, None], "b": [True, False]}), ["a", "b"])
    'a,b\\n1.5,true\\n,false\\n'
    """
    out = frame[columns].copy()
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = out[column].map({True: "true", False: "false"})
    return str(out.to_csv(index=False, lineterminator="\n"))


def render_csvs(fleet: FleetView) -> dict[str, str]:
    """File name -> CSV text for the three exports."""
    return {
        "hosts.csv": to_csv(fleet.hosts, HOSTS_CSV),
        "processes.csv": to_csv(fleet.processes, PROCESSES_CSV),
        "findings.csv": to_csv(fleet.findings, FINDINGS_CSV),
    }


def write_csvs(run: RunResult, fleet: FleetView, out_dir: Path) -> list[Path]:
    """Write the three CSV files into ``out_dir`` (created if needed); return their paths.

    ``processes.csv`` and ``findings.csv`` are written a slice of hosts at a time from each host's whole
    result (``RunResult.each_detail``): the fleet's process frame of a run held in brief has the culprits
    only, its findings frame no passed check's message.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create --csv folder {str(out_dir)!r}: {exc.strerror}") from None
    texts: dict[str, Iterable[str]] = {
        "hosts.csv": [to_csv(fleet.hosts, HOSTS_CSV)],
        "processes.csv": _process_chunks(run),
        "findings.csv": _finding_chunks(run, fleet.findings),
    }
    written = []
    for name, chunks in texts.items():
        path = out_dir / name
        write_chunks(path, chunks, what="report file")
        written.append(path)
    return written


def _process_chunks(run: RunResult) -> Iterator[str]:
    """``processes.csv`` host by host, each host's rows typed as the whole file's column would be
    (``column_dtypes``: an int column with a gap anywhere prints ``3.0`` on every row), so the text
    is the one ``to_csv`` of the whole frame gives. Two passes over the hosts: types, then rows
    (``CSV_SLICE_HOSTS`` at a time)."""
    seen: dict[str, dict[type, Any]] = {}
    for host in run.each_detail():
        for row in process_rows(host):
            for column in PROCESS_FRAME_COLUMNS:
                value = row.get(column, _MISSING)
                seen.setdefault(column, {}).setdefault(type(value), value)
    dtypes = column_dtypes(seen, PROCESS_FRAME_COLUMNS)
    yield to_csv(pd.DataFrame(columns=PROCESS_FRAME_COLUMNS).astype(dtypes), PROCESSES_CSV)
    rows: list[dict[str, Any]] = []
    for n, host in enumerate(run.each_detail(), 1):
        rows += process_rows(host)
        if rows and (n % CSV_SLICE_HOSTS == 0 or n == len(run.hosts)):
            frame = pd.DataFrame(rows, columns=PROCESS_FRAME_COLUMNS).astype(dtypes)
            yield to_csv(frame, PROCESSES_CSV).split("\n", 1)[1]
            rows = []


def _finding_chunks(run: RunResult, findings: pd.DataFrame) -> Iterator[str]:
    """``findings.csv``: the fleet's findings frame ``CSV_SLICE_HOSTS`` hosts at a time, its messages
    those of each host's whole result (a brief's passed checks have none). The frame's rows are the
    hosts' findings in run order, so a slice keeps the whole frame's column types and text."""
    yield to_csv(findings.iloc[:0], FINDINGS_CSV)
    start, messages = 0, []
    for n, host in enumerate(run.each_detail(), 1):
        messages += [f.message for f in host.findings]
        if messages and (n % CSV_SLICE_HOSTS == 0 or n == len(run.hosts)):
            part = findings.iloc[start : start + len(messages)].copy()
            part["message"] = messages
            yield to_csv(part, FINDINGS_CSV).split("\n", 1)[1]
            start, messages = start + len(messages), []


class _Missing:
    """A key a row does not have (pandas makes it NaN), told apart from a None value."""


_MISSING = _Missing()


def column_dtypes(seen: dict[str, dict[type, Any]], columns: list[str]) -> dict[str, Any]:
    """The dtype pandas gives each column of a frame built from rows whose values, per column, are of
    the types in ``seen`` (one example each): it depends on that set only.

    >>> column_dtypes({"a": {int: 3, type(None): None}, "b": {bool: True}}, ["a", "b"])
    {'a': dtype('float64'), 'b': dtype('bool')}
    """
    out: dict[str, Any] = {}
    for column in columns:
        examples = list(seen.get(column, {}).values())
        rows = [{} if v is _MISSING else {column: v} for v in examples]
        out[column] = pd.DataFrame(rows, columns=[column])[column].dtype
    return out
