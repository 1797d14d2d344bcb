"""``pfdiag watch`` on a bad day (issue 15): bounded options, sinks that cannot be written, a --pid that
does not run, alerts still queued at the end.

Every watch here is a real one on this machine (the local ticker), run as a subprocess with a timeout so
a hang fails the test; FIFOs are made with ``mkfifo``, a full disk is a 1 MiB tmpfs mounted here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main

REPO = Path(__file__).resolve().parents[2]


def watch(
    tmp_path: Path, *argv: str, timeout_s: float = 90, stdout: Any = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diag", "watch", "-o", str(tmp_path / "run"), *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        check=False,
    )


@contextlib.contextmanager
def watching(run_dir: Path, *argv: str, stdout: Any = subprocess.DEVNULL) -> Iterator[subprocess.Popen[str]]:
    """A watch running in the background while the test acts on it; killed if the test fails."""
    cmd = [sys.executable, "-m", "diag", "watch", "-o", str(run_dir), *argv]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(done: Callable[[], bool], proc: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)


def run_json(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "run.json").read_text())


def assert_clean(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--every", "0.001"], "--every must be a number of seconds from 0.1 to 3600, got 0.001"),
        (["--every", "1e300"], "--every must be a number of seconds from 0.1 to 3600"),
        (["--every", "nan"], "--every must be a number of seconds from 0.1 to 3600"),
        (["--every", "1", "--duration", "0"], "--duration must be a finite number > 0"),
        (["--every", "1", "--duration", "9" * 400], "--duration must be a finite number > 0"),
    ],
)
def test_watch_refuses_a_tick_period_or_duration_out_of_bounds_as_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # --count keeps today's main (which accepted these) from watching until Ctrl-C
    code = main(
        ["watch", *argv, "--count", "2", "-o", str(tmp_path / "run")]
        if "--duration" not in argv
        else ["watch", *argv, "-o", str(tmp_path / "run")]
    )
    assert code == 5
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before the run folder or any host


def test_jsonl_to_a_fifo_nobody_reads_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    done = watch(tmp_path, "--every", "0.3", "--count", "2", "--jsonl", str(fifo), timeout_s=30)
    assert done.returncode == 5, done.stderr
    assert f"--jsonl: nothing is reading from the FIFO {str(fifo)!r}" in done.stderr
    assert time.monotonic() - started < 20
    assert_clean(done)


def test_a_jsonl_reader_that_stops_reading_ends_the_watch_with_an_error_and_a_finished_run_json(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, and never read
    try:
        # 0.1 s ticks for 60 s: far more than the pipe's 64 KiB
        done = watch(tmp_path, "--every", "0.1", "--count", "600", "--jsonl", str(fifo), timeout_s=50)
    finally:
        os.close(reader)
    assert done.returncode == 1, done.stderr
    assert "its reader read nothing for 10 s; the watch stopped" in done.stderr
    meta = run_json(tmp_path / "run")
    assert meta["finished"] and meta["ended_by"] == "error" and "--jsonl" in meta["error"]
    assert_clean(done)


def test_jsonl_to_dev_full_is_an_error_and_the_run_json_is_finished(tmp_path: Path) -> None:
    done = watch(tmp_path, "--every", "0.3", "--count", "5", "--jsonl", "/dev/full", timeout_s=40)
    assert done.returncode == 1, done.stderr
    assert "cannot write --jsonl '/dev/full': the device is full" in done.stderr
    meta = run_json(tmp_path / "run")
    assert meta["finished"] and meta["ended_by"] == "error"
    assert_clean(done)


@contextlib.contextmanager
def small_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> None:
    with contextlib.suppress(OSError), (folder / "ballast").open("wb") as ballast:
        while True:
            ballast.write(b"\0" * 65536)
            ballast.flush()


def test_a_watch_that_fills_its_disk_stops_with_an_error_and_still_records_how_it_ended(
    tmp_path: Path,
) -> None:
    with small_tmpfs(tmp_path / "disk") as disk:
        events = disk / "run" / "events.jsonl"
        with watching(disk / "run", "--every", "0.2", "--count", "300") as proc:
            wait_for(lambda: events.exists() and events.stat().st_size > 0, proc)
            fill(disk)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, err
        assert "Traceback" not in err and "internal error" not in err, err
        assert f"cannot write {str(disk / 'run' / 'events.jsonl')!r}: No space left on device" in err
        meta = run_json(disk / "run")
        assert meta["finished"] is not None and meta["ended_by"] == "error"
        assert "No space left on device" in meta["error"]
        assert not (disk / "run" / ".run.json.reserve").exists()


def test_a_pid_that_does_not_run_is_an_error_naming_it_and_the_host(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that existed a moment ago, and is reaped
    done = watch(tmp_path, "--every", "0.3", "--count", "20", "--pid", str(gone.pid), timeout_s=60)
    assert done.returncode == 5, done.stderr
    assert f"--pid {gone.pid}: no such process on localhost" in done.stderr
    meta = run_json(tmp_path / "run")
    assert meta["finished"] and meta["ended_by"] == "followed processes not found"
    assert_clean(done)


def test_of_several_pids_one_that_does_not_run_is_a_warning_and_the_watch_goes_on(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    done = watch(tmp_path, "--every", "0.3", "--count", "3", "--pid", "1", "--pid", str(gone.pid))
    assert done.returncode == 0, done.stderr
    assert f"[WARNING]: --pid {gone.pid}: no such process on any host" in done.stderr
    assert run_json(tmp_path / "run")["ended_by"] == "count"


def test_alerts_still_queued_at_the_end_are_delivered_or_named_never_dropped_silently(tmp_path: Path) -> None:
    delivered = tmp_path / "delivered.jsonl"
    rules = ("host_minflt_per_s", "host_majflt_per_s", "swapin_pages_per_s", "proc_minflt_per_s")
    zero = [f"{rule}=0" for rule in rules]  # three host-wide alerts at the first rated tick, at least
    done = watch(
        tmp_path,
        "--every",
        "0.3",
        "--count",
        "3",
        *(arg for value in zero for arg in ("-e", value)),
        "--notify",
        f"sleep 8; cat >> {delivered}",  # a slow receiver: 2 at most within the 15 s flush
        timeout_s=90,
    )
    assert done.returncode == 0, done.stderr
    alerts = [
        e
        for e in map(json.loads, (tmp_path / "run" / "events.jsonl").read_text().splitlines())
        if e["type"] == "alert"
    ]
    got = len(delivered.read_text().splitlines()) if delivered.exists() else 0
    assert len(alerts) >= 3
    warnings = run_json(tmp_path / "run")["warnings"]
    said = [w for w in warnings if "not delivered to --notify/--notify-url" in w]
    assert len(said) == 1 and said[0] in done.stderr, done.stderr
    undelivered = int(said[0].split(" alert(s)")[0])
    assert undelivered >= 1 and got + undelivered >= len(alerts)


def test_ctrl_c_with_alerts_queued_names_the_undelivered_ones_and_exits_99(tmp_path: Path) -> None:
    argv = [
        "--every",
        "0.3",
        "-e",
        "host_majflt_per_s=0",
        "-e",
        "host_minflt_per_s=0",
        "--notify",
        "sleep 30",
    ]
    events = tmp_path / "run" / "events.jsonl"
    with watching(tmp_path / "run", *argv) as proc:
        wait_for(lambda: events.exists() and '"type": "alert"' in events.read_text(), proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=40)
    assert proc.returncode == 99, err
    assert "Traceback" not in err, err
    assert "alert(s) not delivered to --notify/--notify-url" in err
    meta = run_json(tmp_path / "run")
    assert meta["interrupted"] and any("not delivered" in w for w in meta["warnings"])


def test_jsonl_may_be_a_file_inside_the_run_folder(tmp_path: Path) -> None:
    done = watch(tmp_path, "--every", "0.3", "--count", "2", "--jsonl", str(tmp_path / "run" / "copy.jsonl"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "copy.jsonl").read_text() == (tmp_path / "run" / "events.jsonl").read_text()


@pytest.mark.parametrize("jsonl", [[], ["--jsonl", "-"]])
def test_a_stdout_reader_that_goes_away_ends_the_watch_quietly_with_run_json_finished(
    tmp_path: Path, jsonl: list[str]
) -> None:
    with watching(
        tmp_path / "run", "--every", "0.3", "--count", "60", *jsonl, stdout=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None
        proc.stdout.readline()  # as `| head -1` does
        proc.stdout.close()
        _, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "internal error" not in err and "ERROR" not in err, err
    meta = run_json(tmp_path / "run")
    assert meta["finished"] and meta["ended_by"] == "output closed"


def test_a_stdout_that_cannot_be_written_is_an_error_and_run_json_is_finished(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = watch(tmp_path, "--every", "0.3", "--count", "3", timeout_s=40, stdout=full)
    assert done.returncode == 1, done.stderr
    assert "ERROR: cannot write to standard output: No space left on device" in done.stderr
    assert_clean(done)
    assert run_json(tmp_path / "run")["ended_by"] == "error"


def test_watch_o_naming_a_folder_of_other_files_is_refused_like_run_and_audit(tmp_path: Path) -> None:
    """-o is checked by the one run-folder owner: a watch never writes into (or marks) a user's folder."""
    precious = tmp_path / "run"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine\n")
    done = watch(tmp_path, "--every", "0.3", "--count", "1")
    assert done.returncode == 5, done.stderr
    assert "is not a pfdiag run folder and holds other files (notes.txt)" in done.stderr
    assert_clean(done)
    assert sorted(p.name for p in precious.iterdir()) == ["notes.txt"]
    (precious / "notes.txt").unlink()
    for _ in range(2):  # an empty folder, then the watch's own run folder again
        done = watch(tmp_path, "--every", "0.3", "--count", "1")
        assert done.returncode == 0, done.stderr
        assert (precious / ".pfdiag-run").is_file() and run_json(precious)["kind"] == "watch"
