"""``pfdiag run deepdive.yml`` on a compiled C workload whose faults all come from ``touch_pages``.

perf names the function and its binary locally and over SSH (as the login user, on its own process,
which perf_event_paranoid=2 allows); ``-e match=`` finds the process by comm; without perf on PATH the
deep dive is not evaluable with the reason, and never fails; the host keeps no temporary files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from tests.fixtures.inventories import one_host_inventory
from tests.fixtures.processes import cmdlines
from tests.fixtures.ssh_argv import ssh_options
from tests.fixtures.sshd_fleet import LOGIN_USER, Fleet

REPO = Path(__file__).resolve().parent.parent
DEEPDIVE = str(REPO / "playbooks" / "deepdive.yml")
COMM = "pfdd-touch"
SOURCE = r"""
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#define SIZE (16 << 20)
__attribute__((noinline)) void touch_pages(char *p, size_t n) {
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
}
__attribute__((noinline)) void fill_buffer(void) {
    char *p = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch_pages(p, SIZE);
    munmap(p, SIZE);
}
int main(void) {
    puts("READY");
    fflush(stdout);
    for (;;) fill_buffer();
}
"""


def leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("pfdiag-deepdive.*")}


@pytest.fixture
def touch_binary() -> Iterator[Path]:
    """The workload, built with frame pointers (perf's call chains) in a dir the login user can read."""
    build = Path(tempfile.mkdtemp(prefix="pfdiag-cwork-"))
    try:
        build.chmod(0o755)
        (build / "touch.c").write_text(SOURCE)
        binary = build / COMM
        flags = ["-g", "-O1", "-fno-omit-frame-pointer", "-fno-inline"]
        subprocess.run(
            ["gcc", *flags, "-o", str(binary), str(build / "touch.c")], check=True, capture_output=True
        )
        yield binary
    finally:
        shutil.rmtree(build, ignore_errors=True)


def start(binary: Path, user: str | None = None) -> subprocess.Popen[bytes]:
    # all of the user's ids: perf may attach only to a process whose uid and gid are the caller's
    ids: dict[str, Any] = {"user": user, "group": user, "extra_groups": []} if user else {}
    proc = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, **ids)
    assert proc.stdout is not None and proc.stdout.readline() == b"READY\n"
    return proc


@pytest.fixture
def touching(touch_binary: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = start(touch_binary)
    yield proc
    proc.kill()
    proc.wait()


def deepdive(capsys: Any, tmp_path: Path, *argv: str) -> tuple[int, dict[str, Any], str]:
    json_path = tmp_path / "dd.json"
    code = main(
        ["run", DEEPDIVE, "-e", "interval_s=1", "-o", str(tmp_path / "run"), "--json", str(json_path), *argv]
    )
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, json.loads(json_path.read_text()), out + err


def assert_names_touch_pages(host: dict[str, Any], pid: int, binary: Path) -> None:
    (profile,) = host["profiles"]
    assert profile["pid"] == pid and profile["comm"] == COMM and profile["perf"]["usable"]
    hot = profile["hotspot"]
    assert (hot["symbol"], hot["dso"], hot["event"]) == ("touch_pages", str(binary), "page-faults")
    assert hot["pct"] >= 80
    assert profile["headlines"][0].startswith(
        f"{hot['pct']:.0f} % of minor faults in `touch_pages` ({binary})"
    )
    chains = profile["chains"]["page-faults"]
    assert chains[0]["chain"][-1] == "touch_pages" and "main" in chains[0]["chain"]
    assert profile["counts"]["minor_faults"] > 1000
    assert profile["memory"]["rss_kib"] > 0 and profile["mappings"]
    assert host["verdict"] == "minor-storm"
    (finding,) = [f for f in host["findings"] if f["check"] == "fault-hotspot"]
    assert finding["status"] == "fail" and "`touch_pages`" in finding["message"]
    assert any("touch_pages" in r["title"] and "MAP_POPULATE" in r["text"] for r in host["remediation"])


@pytest.mark.workload
def test_perf_names_the_faulting_function_and_its_binary_locally(
    touching: subprocess.Popen[bytes], touch_binary: Path, tmp_path: Path, capsys: Any
) -> None:
    before = leftovers()
    code, doc, _ = deepdive(capsys, tmp_path, "-e", f"pid={touching.pid}")
    assert code == 0
    assert_names_touch_pages(doc["hosts"]["localhost"], touching.pid, touch_binary)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Where the faults come from" in report and "`touch_pages`" in report
    assert leftovers() == before and touching.poll() is None  # left as found, the process untouched
    assert not Path("~/.debug").expanduser().exists() or "pfdiag-cwork" not in str(
        list(Path("~/.debug").expanduser().rglob("*pfdiag-cwork*"))
    )


@pytest.mark.workload
def test_match_finds_the_process_by_comm(
    touching: subprocess.Popen[bytes], touch_binary: Path, tmp_path: Path, capsys: Any
) -> None:
    code, doc, _ = deepdive(capsys, tmp_path, "-e", f"match=^{COMM}$")
    assert code == 0
    assert_names_touch_pages(doc["hosts"]["localhost"], touching.pid, touch_binary)


@pytest.mark.ssh
@pytest.mark.workload
def test_perf_names_the_faulting_function_over_ssh(
    ssh_fleet: Fleet, touch_binary: Path, tmp_path: Path, capsys: Any
) -> None:
    inventory = tmp_path / "inv.ini"
    one_host_inventory(ssh_fleet, inventory, "h01")
    home_debug = Path(f"~{LOGIN_USER}").expanduser() / ".debug"
    had_debug = home_debug.exists()
    before = leftovers()
    proc = start(touch_binary, user=LOGIN_USER)  # perf as the login user may profile its own process
    try:
        code, doc, _ = deepdive(
            capsys,
            tmp_path,
            "-i",
            str(inventory),
            "-e",
            f"pid={proc.pid}",
            *ssh_options(ssh_fleet),
        )
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    assert code == 0
    assert_names_touch_pages(doc["hosts"]["h01"], proc.pid, touch_binary)
    assert leftovers() == before and home_debug.exists() == had_debug


def test_without_perf_the_deep_dive_is_not_evaluable_with_the_reason_and_the_command(
    touching: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"  # everything this machine has on PATH, except perf
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for tool in Path(directory).glob("*"):
            target = bin_dir / tool.name
            if tool.name != "perf" and not target.exists() and not tool.name.startswith("perf"):
                target.symlink_to(tool)
    env = {**os.environ, "PATH": str(bin_dir), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "diag", "run", DEEPDIVE, "-e", f"pid={touching.pid}", "-e", "interval_s=1"]
    result = subprocess.run(
        [*cmd, "-o", str(tmp_path / "run"), "--json", str(tmp_path / "dd.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    host = json.loads((tmp_path / "dd.json").read_text())["hosts"]["localhost"]
    (profile,) = host["profiles"]
    assert profile["perf"] == {
        "usable": False,
        "reason": "perf is not installed (not found in PATH)",
        "command": profile["perf"]["command"],
    }
    assert f"-p {touching.pid}" in profile["perf"]["command"]
    (finding,) = [f for f in host["findings"] if f["check"] == "fault-hotspot"]
    assert finding["status"] == "skip" and "perf is not installed" in finding["reason"]
    assert host["status"] == "ok" and host["verdict"] == "not-evaluable"
    assert profile["memory"]["rss_kib"] > 0  # what does not need perf is still there
    assert "Not evaluable: perf is not installed" in (tmp_path / "run" / "report.md").read_text()


@pytest.mark.ssh
def test_perf_not_permitted_over_ssh_is_not_evaluable_with_the_reason(
    ssh_fleet: Fleet, touching: subprocess.Popen[bytes], tmp_path: Path, capsys: Any
) -> None:
    inventory = tmp_path / "inv.ini"
    one_host_inventory(ssh_fleet, inventory, "h01")
    code, doc, _ = deepdive(
        capsys,
        tmp_path,
        "-i",
        str(inventory),
        "-e",
        f"pid={touching.pid}",  # root's process; the login user may not profile it
        *ssh_options(ssh_fleet),
    )
    assert code == 0
    host = doc["hosts"]["h01"]
    (profile,) = host["profiles"]
    assert not profile["perf"]["usable"] and "perf_event_paranoid" in profile["perf"]["reason"]
    assert host["verdict"] == "not-evaluable" and host["status"] == "ok"


def test_a_pid_that_is_gone_is_not_evaluable_the_process_is_gone(tmp_path: Path, capsys: Any) -> None:
    gone = subprocess.Popen(["sleep", "0"])
    gone.wait()  # reaped: its pid names no process (pids are not reused this soon)
    code, doc, _ = deepdive(capsys, tmp_path, "-e", f"pid={gone.pid}")
    assert code == 0
    host = doc["hosts"]["localhost"]
    assert (host["status"], host["verdict"]) == ("ok", "not-evaluable")
    assert host["summary"] == f"pid {gone.pid}: the process is gone"
    (profile,) = host["profiles"]
    assert profile["perf"]["reason"] == "the process is gone"
    (finding,) = [f for f in host["findings"] if f["check"] == "fault-hotspot"]
    assert finding["status"] == "skip" and finding["reason"] == f"pid {gone.pid}: the process is gone"


@pytest.mark.parametrize("pid", ["0", "-1"])
def test_a_pid_of_0_or_minus_1_is_a_bad_option(pid: str, tmp_path: Path, capsys: Any) -> None:
    code = main(["run", DEEPDIVE, "-e", f"pid={pid}", "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 5, err
    assert f"pid={pid} (from -e) must be a process id, a whole number from 1 to 4194304" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_match_that_is_no_regex_is_a_bad_option_naming_the_regex_error(tmp_path: Path, capsys: Any) -> None:
    code = main(["run", DEEPDIVE, "-e", "match=[", "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 5, err
    assert "match='[' (from -e) is not an extended regular expression (unterminated character set" in err
    assert not (tmp_path / "run").exists()


def test_a_match_the_hosts_awk_refuses_fails_the_host_with_awks_reason(tmp_path: Path, capsys: Any) -> None:
    regex = "(?i)x"  # Python takes it; POSIX EREs have no (?i), and mawk says "missing operand"
    probe = subprocess.run(["awk", "-v", f"re={regex}", 'BEGIN { if ("" ~ re) {} }'], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("this machine's awk accepts (?i)")
    code, doc, _ = deepdive(capsys, tmp_path, "-e", f"match={regex}")
    assert code == 2
    host = doc["hosts"]["localhost"]
    assert host["status"] == "failed"
    assert f"match '{regex}' is not a regex awk accepts: " in host["reason"], host["reason"]


@pytest.mark.parametrize("top_n", ["-1", "0", "100000", "2.5"])
def test_top_n_outside_1_to_100_is_a_bad_option(top_n: str, tmp_path: Path, capsys: Any) -> None:
    code = main(["run", DEEPDIVE, "-e", "match=x", "-e", f"top_n={top_n}", "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 5, err
    assert f"top={top_n} (from -e) must be a whole number from 1 to 100" in err


@pytest.mark.workload
def test_sigterm_mid_deep_dive_stops_perf_and_removes_its_temp_folder(
    touching: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    private_tmp = tmp_path / "tmp"  # the script's mktemp -d goes here: other runs' folders are not ours
    private_tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(private_tmp)}
    argv = [sys.executable, "-m", "diag", "run", DEEPDIVE, "-e", f"pid={touching.pid}", "-e", "interval_s=60"]
    run = subprocess.Popen(
        [*argv, "-o", str(tmp_path / "run")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(private_tmp.glob(f"pfdiag-deepdive.*/rec.{touching.pid}")):  # perf record writes
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "perf record never started"
            time.sleep(0.1)  # polling interval of the temp folder
        run.send_signal(signal.SIGTERM)
        _out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 99, err.decode()
    assert list(private_tmp.iterdir()) == [], "the deep dive's temp folder (perf.data) was left behind"
    assert not [p for p in _cmdlines() if str(private_tmp) in p], "a perf of the deep dive still runs"
    assert touching.poll() is None


def _cmdlines() -> list[str]:
    return [line.replace(b"\0", b" ").decode(errors="replace") for line in cmdlines().values()]
