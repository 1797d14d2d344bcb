"""CSV exports of a run: ``hosts.csv``, ``processes.csv``, ``findings.csv``, one row per host / top
process per host / check per host.

In: a ``FleetView`` (``diag.fleet``). Out: CSV text (RFC 4180 quoting, ``\\n`` line ends, empty cell
for a missing value, ``;`` between list items inside a cell), or the three files in a folder.
Columns (documented in the README): see ``HOSTS_CSV``, ``PROCESSES_CSV`` and ``FINDINGS_CSV``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from diag.fleet import (
    EXTRA_RATE_COLUMNS,
    FINDING_COLUMNS,
    HOST_COLUMNS,
    PROCESS_COLUMNS,
    WORKLOAD_COLUMNS,
    FleetView,
)
from diag.shared.errors import ReportError
from diag.shared.files import write_text

OUTLIER_COLUMNS = [
    "peers", "majflt_per_s_z", "majflt_per_s_x_median", "minflt_per_s_z", "minflt_per_s_x_median", "outlier",
]  # fmt: skip
# columns added later go last, so that no documented column moves
HOSTS_CSV = [*HOST_COLUMNS, *OUTLIER_COLUMNS, *EXTRA_RATE_COLUMNS]
PROCESSES_CSV = [*PROCESS_COLUMNS, *WORKLOAD_COLUMNS]
FINDINGS_CSV = FINDING_COLUMNS


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


def write_csvs(fleet: FleetView, out_dir: Path) -> list[Path]:
    """Write the three CSV files into ``out_dir`` (created if needed); return their paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create --csv folder {str(out_dir)!r}: {exc.strerror}") from None
    written = []
    for name, text in render_csvs(fleet).items():
        path = out_dir / name
        write_text(path, text, what="report file")
        written.append(path)
    return written
