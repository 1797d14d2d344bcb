"""Paths a user points pfdiag at: never damaged, never hung on, every failure one error with the path.

Cases of issue 8 (sections 1, 2 and 6): ``--json /dev/full`` (the device node stays), a FIFO output,
output paths checked before any host is contacted, ``-i /dev/zero``, ``-e @/dev/zero``, a FIFO in an
inventory folder, a directory as playbook, an executable inventory script, closed pipes and full stdout.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from diag.cli import main
from diag.shared.errors import DiagError, ReportError
from diag.shared.files import FILE_MODE, read_text, write_text

QUICK = """
- name: demo
  hosts: all
  tasks:
    - name: one command
      command: "echo hi"
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pb.yml").write_text(QUICK)


def test_write_text_to_dev_full_is_an_error_and_keeps_the_device_node():
    before = os.stat("/dev/full")
    with pytest.raises(ReportError, match=r"/dev/full.*full"):
        write_text(Path("/dev/full"), "x" * 10_000)
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_cli_json_to_dev_full_exits_with_an_error_and_the_node_stays(capsys):
    code = main(["run", "pb.yml", "--json", "/dev/full", "-o", "out"])
    assert code == 1
    assert "/dev/full" in capsys.readouterr().err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_write_text_into_a_fifo_writes_in_place(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    for _ in range(200):  # wait until the reader has the FIFO open (no fixed sleep)
        try:
            write_text(fifo, "hello\n")
            break
        except ReportError:
            threading.Event().wait(0.01)
    reader.join(5)
    assert got == [b"hello\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_write_text_into_a_fifo_without_reader_fails_at_once(tmp_path):
    fifo = tmp_path / "lonely.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ReportError, match="nothing is reading"):
        write_text(fifo, "x")


def test_write_text_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(os.stat(target).st_mode) == FILE_MODE


def test_run_folder_files_share_one_mode(tmp_path):
    assert main(["run", "pb.yml", "-o", "out", "--json", "r.json"]) == 0
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    modes["r.json"] = stat.S_IMODE((tmp_path / "r.json").stat().st_mode)
    assert set(modes.values()) == {FILE_MODE}, modes


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--json", "."], "is a directory"),
        (["--csv", "pb.yml"], "is not a directory"),
        (["-o", "/proc/sys"], "cannot"),
        (["-o", "pb.yml"], "pb.yml"),
    ],
)
def test_bad_output_paths_fail_before_any_host_is_contacted(tmp_path, capsys, argv, message):
    (tmp_path / "pb.yml").write_text(QUICK.replace("echo hi", "touch contacted"))
    code = main(["run", "pb.yml", *argv])
    assert code in (1, 5)
    err = capsys.readouterr().err
    assert err.startswith("ERROR:") and message in err
    assert not (tmp_path / "contacted").exists()


@pytest.mark.parametrize("path", ["/dev/zero", "fifo"])
def test_non_regular_inputs_are_refused_without_reading(tmp_path, path):
    if path == "fifo":
        os.mkfifo(tmp_path / "fifo")
    with pytest.raises(DiagError, match="not a regular file"):
        read_text(Path(path))


def test_oversized_input_is_refused(tmp_path):
    big = tmp_path / "big.yml"
    big.write_bytes(b"a" * 2048)
    with pytest.raises(DiagError, match="larger than"):
        read_text(big, limit=1024)


def test_undecodable_input_says_where(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(DiagError, match="not UTF-8") as info:
        read_text(bad)
    assert info.value.where == f"{bad}:2"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["-i", "/dev/zero", "--list-hosts"], 4, "character device"),
        (["-e", "@/dev/zero", "--syntax-check"], 5, "character device"),
        (["-i", "invdir", "--list-hosts"], 4, "is a FIFO"),
        (["-i", "script.sh", "--list-hosts"], 4, "scripts are not supported"),
        (["-e", "@fifo", "--syntax-check"], 5, "is a FIFO"),
    ],
)
def test_devices_fifos_and_scripts_as_inputs_are_clear_errors(tmp_path, capsys, argv, code, message):
    (tmp_path / "invdir").mkdir()
    (tmp_path / "invdir" / "a.ini").write_text("h1 ansible_connection=local\n")
    os.mkfifo(tmp_path / "invdir" / "z")
    os.mkfifo(tmp_path / "fifo")
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho '{}'\n")
    script.chmod(0o755)
    assert main(["run", "pb.yml", *argv]) == code
    err = capsys.readouterr().err
    assert err.startswith("ERROR:") and message in err


def test_a_directory_as_playbook_says_so(tmp_path, capsys):
    (tmp_path / "plays").mkdir()
    assert main(["run", "plays"]) == 1
    assert "is a directory" in capsys.readouterr().err


def _pfdiag(*args: str, **kwargs) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "diag", *args], env=env, stderr=subprocess.PIPE, **kwargs)


def test_a_closed_pipe_ends_the_output_quietly(tmp_path):
    hosts = ",".join(f"h{n}" for n in range(3000)) + ","
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "diag", "inventory", "-i", hosts, "--list"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err == b""


def test_a_full_stdout_is_an_error_not_a_traceback():
    with open("/dev/full", "wb") as full:
        result = _pfdiag("inventory", "-i", "a,b,", "--list", stdout=full, timeout=60)
    assert result.returncode == 1
    assert result.stderr.decode().startswith("ERROR: cannot write to standard output")


# -- issue 15: every file pfdiag writes goes through safeio (devices, FIFOs, links, 0600) -----------


def _null_device(path: Path) -> Path:
    """A character device like /dev/null (same major/minor), made in a temp dir: what a
    ``--textfile /dev/null`` run as root must leave in place."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.stat("/dev/null").st_rdev)
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    return path


def _still_the_device(path: Path) -> bool:
    after = os.lstat(path)
    return stat.S_ISCHR(after.st_mode) and after.st_rdev == os.stat("/dev/null").st_rdev


def _through_fifo(fifo: Path, write) -> bytes:
    """Call ``write()`` while a reader thread holds ``fifo`` open; what the reader got."""
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    for _ in range(500):  # until the reader has the FIFO open (no fixed sleep)
        try:
            write()
            break
        except ReportError:
            threading.Event().wait(0.01)
    reader.join(10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
    return got[0] if got else b""


def test_the_textfile_keeps_a_device_a_fifo_and_a_symlink_and_is_0644(tmp_path):
    from diag.findings import RunResult
    from diag.report.prometheus import write_textfile

    run = RunResult("audit.yml", [], None, "2026-12-01T00:00:00+0000")

    def write(path: Path) -> Path:
        return write_textfile(path, run, {"new": 1}, duration_s=1.0, last_success=None)

    device = _null_device(tmp_path / "null.prom")
    write(device)
    assert _still_the_device(device)
    fifo = tmp_path / "fifo.prom"
    assert b"pfdiag_audit_problems" in _through_fifo(fifo, lambda: write(fifo))
    target, link = tmp_path / "real.prom", tmp_path / "link.prom"
    target.write_text("old")
    link.symlink_to(target)
    write(link)
    assert link.is_symlink() and "pfdiag_audit_problems" in target.read_text()
    write(tmp_path / "new.prom")  # node_exporter, often another user, reads it
    assert stat.S_IMODE((tmp_path / "new.prom").stat().st_mode) == 0o644


def test_an_audit_keeps_a_device_textfile_and_its_run_folder_stays_0600(tmp_path, capsys):
    device = _null_device(tmp_path / "null.prom")
    argv = ["audit", "-e", "interval_s=0.5", "--history", "h.sqlite", "-o", "run", "--textfile", str(device)]
    assert main(argv) in (0, 2)
    assert "Traceback" not in capsys.readouterr().err
    assert _still_the_device(device)
    report = (tmp_path / "run" / "report.md").read_text()
    assert report.startswith("## Since the last audit")  # prepended after the run wrote it
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "run").iterdir()}
    assert set(modes.values()) == {FILE_MODE}, modes


def test_a_watch_folder_is_0600_and_its_report_keeps_a_device_a_fifo_and_a_link(tmp_path, capsys):
    assert main(["watch", "--every", "0.5", "--count", "2", "-o", "w"]) == 0
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "w").iterdir()}
    # the marker: the watch's folder is made by the one run-folder owner, like run's and audit's
    assert modes == {"run.json": FILE_MODE, "events.jsonl": FILE_MODE, ".pfdiag-run": FILE_MODE}
    target, link = tmp_path / "timeline.md", tmp_path / "link.md"
    target.write_text("old")
    link.symlink_to(target)
    assert main(["report", "w", "-o", str(link)]) == 0
    assert link.is_symlink() and "Timeline" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == FILE_MODE
    device = _null_device(tmp_path / "null.json")
    assert main(["report", "w", "--format", "json", "-o", str(device)]) == 0
    assert _still_the_device(device)
    fifo = tmp_path / "events.fifo"
    got = _through_fifo(fifo, lambda: main(["report", "w", "--format", "json", "-o", str(fifo)]) or None)
    assert b'"events"' in got


def test_report_charts_are_0600_like_the_rest_of_the_run_folder(tmp_path):
    from diag.report import write_reports
    from tests.report.fleets import mixed_fleet

    write_reports(mixed_fleet(), tmp_path / "run", plots=True)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in
             (tmp_path / "run").rglob("*") if p.is_file()}  # fmt: skip
    assert "run/plots/top-hosts.png" in modes and set(modes.values()) == {FILE_MODE}, modes


def test_a_history_plot_keeps_a_device_and_a_link_and_a_new_one_is_0600(tmp_path):
    from diag.history.rows import HostPoint
    from diag.report.history_plot import plot_host_rates

    rows = [
        HostPoint(n, f"2026-12-01T0{n}:00:00+0000", 1, "h1", majflt_per_s=n, minflt_per_s=10 * n)
        for n in (1, 2)
    ]
    limits = {"host_majflt_per_s": 500.0, "host_minflt_per_s": 50000.0}
    device = _null_device(tmp_path / "null.png")
    plot_host_rates("h1", rows, limits, device)
    assert _still_the_device(device)
    target, link = tmp_path / "real.png", tmp_path / "link.png"
    target.write_bytes(b"old")
    link.symlink_to(target)
    plot_host_rates("h1", rows, limits, link)
    assert link.is_symlink() and target.read_bytes().startswith(b"\x89PNG")
    plot_host_rates("h1", rows, limits, tmp_path / "new.png")
    assert stat.S_IMODE((tmp_path / "new.png").stat().st_mode) == FILE_MODE
