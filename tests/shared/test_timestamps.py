"""One owner for timestamps (diag/shared/units.py): what runs, audits and the history write, and
what notify, the textfile and the history plot read back, is the same format, byte for byte as before."""

from __future__ import annotations

import stat
import time
from pathlib import Path

from diag.findings import RunResult
from diag.notify import alert_time
from diag.report.history_plot import plot_host_rates
from diag.report.prometheus import write_textfile
from diag.shared.units import folder_stamp, now_stamp, parse_stamp, rfc3339, stamp_seconds


def test_a_stamp_is_written_as_every_earlier_version_wrote_it() -> None:
    before = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    stamp = now_stamp()
    after = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    assert stamp in (before, after)
    folder = folder_stamp()
    assert len(folder) == 15 and folder[8] == "-" and folder.replace("-", "").isdigit()


def test_a_stamp_reads_back_to_the_moment_it_was_written() -> None:
    written = time.time()
    seconds = stamp_seconds(now_stamp())
    assert seconds is not None and abs(seconds - written) < 2
    assert rfc3339("2026-12-01T19:20:04-0530") == "2026-12-01T19:20:04-05:30"
    assert stamp_seconds("2026-12-01T19:20:04+0100") == stamp_seconds("2026-12-01T18:20:04+0000")


def test_a_stamp_that_does_not_read_is_unknown_everywhere() -> None:
    for bad in ("", None, "2026-12-01 19:20:04", "2026-13-01T19:20:04+0000", "yesterday"):
        assert parse_stamp(bad) is None and stamp_seconds(bad) is None and rfc3339(bad) is None
    assert alert_time(None) == "0001-01-01T00:00:00Z"
    assert alert_time("2026-12-01T19:20:04+0000") == "2026-12-01T19:20:04+00:00"


def test_a_textfile_stamps_the_last_success_in_unix_seconds(tmp_path: Path) -> None:
    run = RunResult("audit.yml", ["fleet"], None, now_stamp(), finished=now_stamp())
    path = write_textfile(
        tmp_path / "pfdiag.prom", run, {}, duration_s=1.0, last_success="1970-01-02T01:00:00+0100"
    )
    assert "pfdiag_audit_last_success_timestamp_seconds 86400.0" in path.read_text()


def test_a_history_plot_leaves_out_a_row_whose_stamp_does_not_read(tmp_path: Path) -> None:
    rows = [
        {"started": "2026-12-01T01:00:00+0000", "majflt_per_s": 3, "minflt_per_s": 30},
        {"started": "edited by hand", "majflt_per_s": 4, "minflt_per_s": 40},
        {"started": None, "majflt_per_s": 5, "minflt_per_s": 50},
    ]
    limits = {"host_majflt_per_s": 500.0, "host_minflt_per_s": 50000.0}
    path = plot_host_rates("h1", rows, limits, tmp_path / "h1.png")
    assert path.read_bytes().startswith(b"\x89PNG") and stat.S_IMODE(path.stat().st_mode) == 0o600
