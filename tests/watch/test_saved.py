"""``pfdiag report`` on a saved watch whose files are hostile or hand-edited (issue 15).

The run folders are written here as a watch writes them (real files, FIFOs made with ``mkfifo``, a
symlink to ``/dev/zero``); the CLI runs as a subprocess with a timeout and a memory cap, so a hang or
an unbounded read fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
META = {
    "kind": "watch",
    "version": "0",
    "started": "2026-12-01T19:43:24+0000",
    "finished": "2026-12-01T19:43:34+0000",
    "hosts": ["localhost"],
    "every_s": 1.0,
    "thresholds": {"proc_minflt_per_s": 1000.0},
    "interrupted": False,
    "ended_by": "count",
}
SAMPLE = {
    "type": "sample",
    "host": "localhost",
    "ts": "2026-12-01T19:43:25.000Z",
    "interval_s": 1.0,
    "rates": {"pgfault_per_s": 120.0, "minflt_per_s": 119.0, "majflt_per_s": 1.0, "swapin_per_s": 0.0},
    "processes": [{"pid": 42, "comm": "java", "minflt_per_s": 55256.0, "majflt_per_s": 0.0}],
    "bytes": 300,
}
ALERT = {
    "type": "alert",
    "host": "localhost",
    "ts": "2026-12-01T19:43:26.000Z",
    "pid": 42,
    "comm": "java",
    "rule": "proc_minflt_per_s",
    "value": 55256.0,
    "threshold": 1000.0,
}


def write_watch(folder: Path, meta: dict[str, Any], lines: list[str]) -> Path:
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps(meta))
    (folder / "events.jsonl").write_text("".join(line + "\n" for line in lines))
    return folder


def report(*argv: str) -> subprocess.CompletedProcess[str]:
    def cap_memory() -> None:  # today's main read /dev/zero until MemoryError
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    return subprocess.run(
        [sys.executable, "-m", "diag", "report", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=cap_memory,
        check=False,
    )


@pytest.mark.parametrize("fifo", ["run.json", "events.jsonl"])
def test_report_refuses_a_watch_file_that_is_a_fifo_instead_of_waiting_for_a_writer(
    tmp_path: Path, fifo: str
) -> None:
    run = write_watch(tmp_path / "run", META, [json.dumps(SAMPLE)])
    (run / fifo).unlink()
    os.mkfifo(run / fifo)
    done = report(str(run))
    assert done.returncode == 1, done.stderr
    assert f"{run / fifo}" in done.stderr and "is a FIFO, not a regular file" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_report_refuses_events_that_link_to_dev_zero(tmp_path: Path) -> None:
    run = write_watch(tmp_path / "run", META, [])
    (run / "events.jsonl").unlink()
    (run / "events.jsonl").symlink_to("/dev/zero")
    done = report(str(run))
    assert done.returncode == 1, done.stderr
    assert "events.jsonl" in done.stderr and "is a character device, not a regular file" in done.stderr
    assert "MemoryError" not in done.stderr


def test_report_skips_hand_edited_event_lines_by_file_and_line_and_renders_the_rest(
    tmp_path: Path,
) -> None:
    bad = [
        {**SAMPLE, "rates": None},
        {**SAMPLE, "rates": {"minflt_per_s": "fast"}},
        [1, 2],
        {k: v for k, v in ALERT.items() if k != "rule"},
        None,
        {**ALERT, "value": "many"},
        {**SAMPLE, "processes": [{"pid": 1, "minflt_per_s": "x"}]},
    ]
    lines = [json.dumps(SAMPLE), *(json.dumps(b) for b in bad), json.dumps(ALERT), "not json", "{"]
    run = write_watch(tmp_path / "run", {**META, "thresholds": []}, lines)
    done = report(str(run))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    events = run / "events.jsonl"
    for number in range(2, 2 + len(bad)):
        assert f"{events}:{number}: " in done.stderr, (number, done.stderr)
    assert f"{events}:10 is not JSON" in done.stderr
    assert f"{events}:11 is cut short" in done.stderr
    assert f"{run / 'run.json'}: 'thresholds' is []" in done.stderr
    # the good lines are all there: the alert in the timeline, the sample in the peaks
    assert "ALERT    localhost pid 42 (java) proc_minflt_per_s 55,256/s >= 1,000/s" in done.stdout
    assert "| localhost | 1 | 119 | 1.0 | java[42] 55,256 |" in done.stdout
    as_json = report(str(run), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert [e["type"] for e in json.loads(as_json.stdout)["events"]] == ["sample", "alert"]


def test_report_of_a_watch_whose_run_json_is_not_an_object_is_an_error_not_a_crash(
    tmp_path: Path,
) -> None:
    run = write_watch(tmp_path / "run", META, [json.dumps(SAMPLE)])
    (run / "run.json").write_text("[]")
    done = report(str(run))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "run.json" in done.stderr
