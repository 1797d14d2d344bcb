"""CSV exports of a run: ``hosts.csv``, ``processes.csv``, ``findings.csv``, one row per host / top
process per host / check per host.

In: a ``FleetView`` (``diag.fleet``). Out: CSV text (RFC 4180 quoting, ``\\n`` line ends, empty cell
for a missing value, ``;`` between list items inside a cell), or the three files in a folder.
Columns (documented in the README): see ``HOSTS_CSV``, ``PROCESSES_CSV`` and ``FINDINGS_CSV``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from diag.findings import HostResult, RunResult
from diag.fleet import (
    EXTRA_RATE_COLUMNS,
    FINDING_COLUMNS,
    FINDING_FRAME_COLUMNS,
    HOST_COLUMNS,
    PROCESS_COLUMNS,
    PROCESS_FRAME_COLUMNS,
    WORKLOAD_COLUMNS,
    FleetView,
    finding_rows,
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
    only, its findings frame no passed check's value nor message.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create --csv folder {str(out_dir)!r}: {exc.strerror}") from None
    processes, findings = _dtypes(
        run, ((process_rows, PROCESS_FRAME_COLUMNS), (finding_rows, FINDING_FRAME_COLUMNS))
    )
    texts: dict[str, Iterable[str]] = {
        "hosts.csv": _host_chunks(fleet),
        "processes.csv": _chunks(run, process_rows, PROCESS_FRAME_COLUMNS, processes, PROCESSES_CSV),
        "findings.csv": _chunks(run, finding_rows, FINDING_FRAME_COLUMNS, findings, FINDINGS_CSV),
    }
    written = []
    for name, chunks in texts.items():
        path = out_dir / name
        write_chunks(path, chunks, what="report file")
        written.append(path)
    return written


def _host_chunks(fleet: FleetView) -> Iterator[str]:
    """``hosts.csv`` ``CSV_SLICE_HOSTS`` rows at a time: the text of the whole frame at once held every
    cell as a string (~4 KB a host at the peak of a 10,000-host run's exports)."""
    yield to_csv(fleet.hosts.iloc[:0], HOSTS_CSV)
    for start in range(0, len(fleet.hosts), CSV_SLICE_HOSTS):
        yield to_csv(fleet.hosts.iloc[start : start + CSV_SLICE_HOSTS], HOSTS_CSV).split("\n", 1)[1]


_Rows = Callable[[HostResult], list[dict[str, Any]]]


def _dtypes(run: RunResult, tables: Sequence[tuple[_Rows, list[str]]]) -> list[dict[str, Any]]:
    """The dtypes of each table's columns as the frame of every host's rows would have them
    (``column_dtypes``: an int column with a gap anywhere prints ``3.0`` on every row), in one pass over
    the hosts' whole results."""
    seen: list[dict[str, dict[type, Any]]] = [{} for _ in tables]
    for host in run.each_detail():
        for (rows_of, columns), types in zip(tables, seen, strict=True):
            for row in rows_of(host):
                for column in columns:
                    value = row.get(column, _MISSING)
                    types.setdefault(column, {}).setdefault(type(value), value)
    return [column_dtypes(types, columns) for (_, columns), types in zip(tables, seen, strict=True)]


def _chunks(
    run: RunResult, rows_of: _Rows, columns: list[str], dtypes: dict[str, Any], csv_columns: list[str]
) -> Iterator[str]:
    """A CSV host by host, ``CSV_SLICE_HOSTS`` at a time, each slice typed as the whole file's frame
    (``dtypes``), so the text is the one ``to_csv`` of the whole frame gives."""
    yield to_csv(pd.DataFrame(columns=columns).astype(dtypes), csv_columns)
    rows: list[dict[str, Any]] = []
    for n, host in enumerate(run.each_detail(), 1):
        rows += rows_of(host)
        if rows and (n % CSV_SLICE_HOSTS == 0 or n == len(run.hosts)):
            frame = pd.DataFrame(rows, columns=columns).astype(dtypes)
            yield to_csv(frame, csv_columns).split("\n", 1)[1]
            rows = []


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
