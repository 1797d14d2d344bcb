"""The probe against this machine's live /proc, under dash (LocalTransport) and busybox ash."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from diag.probe import facts_command, parse_facts, parse_probe, probe_command
from diag.shared.errors import ParseError
from diag.transport.local import LocalTransport
from tests.fixtures.inventories import one_host_inventory
from tests.fixtures.processes import all_stats, cmdline
from tests.fixtures.sleepers import sleepers
from tests.fixtures.ssh_argv import ssh_options
from tests.fixtures.workloads import inline_python

FAULTER = r"""
import ctypes, mmap
ctypes.CDLL(None).prctl(15, b"pf (x) y", 0, 0, 0)
print("ready", flush=True)
while True:
    m = mmap.mmap(-1, 4 << 20)
    for i in range(0, 4 << 20, 4096):
        m[i] = 1
    m.close()
"""


@pytest.fixture
def faulter() -> Iterator[int]:
    """A child named 'pf (x) y' (via prctl) that keeps touching fresh anonymous memory."""
    with inline_python(FAULTER) as pid:
        yield pid


def run_busybox(command: str) -> str:
    return subprocess.run(
        ["busybox", "ash", "-c", command], capture_output=True, text=True, timeout=60
    ).stdout


def check_invariants(out: str, faulter_pid: int) -> None:
    v = parse_probe(out).as_vars()
    assert 0.8 <= v["interval_s"] <= 2.5  # type: ignore[operator]
    rates = v["rates"]
    assert isinstance(rates, dict)
    assert all(x is None or x >= 0 for x in rates.values())
    assert rates["pgfault_per_s"] >= rates["minflt_per_s"] > 0
    procs = {p["pid"]: p for p in v["processes"]}  # type: ignore[attr-defined]
    me = procs[faulter_pid]
    assert me["comm"] == "pf (x) y" and me["minflt_per_s"] > 0 and me["rss_kib"] > 0
    assert me["memlock_limit_kib"] is not None and me["cgroup"] is not None
    totals = v["process_totals"]
    assert totals["readable"] > 0 and totals["faulting"] >= 1  # type: ignore[index]
    # the probe's own shell, cat and sleep never show up as faulting processes
    assert not {"cat", "sleep", "perf"} & {p["comm"] for p in procs.values() if not p["new"]}
    assert set(v["facts"]) >= {"hostname", "kernel", "clk_tck", "page_size", "cgroup_version"}  # type: ignore[arg-type]


@pytest.mark.workload
def test_probe_under_dash_finds_a_faulting_process_with_parens_in_its_name(faulter: int) -> None:
    result = LocalTransport(shell="/bin/sh").run(probe_command(interval_s=1, top_n=10), timeout_s=30)
    assert result.ok, result.stderr
    check_invariants(result.stdout, faulter)


@pytest.mark.workload
@pytest.mark.skipif(not shutil.which("busybox"), reason="busybox not installed")
def test_probe_under_busybox_ash_finds_the_same_process(faulter: int) -> None:
    check_invariants(run_busybox(probe_command(interval_s=1, top_n=10, perf=False)), faulter)


def test_facts_command_ends_within_its_timeout_and_parses() -> None:
    # How fast it is (a few ms) is measured by bench/facts_cost.py, not asserted on a shared machine.
    result = LocalTransport().run(facts_command(), timeout_s=10)
    assert result.ok, result.stderr
    facts = parse_facts(result.stdout)
    assert facts["clk_tck"] and facts["page_size"] and facts["cpus"]


AWKS = {"awk", "mawk", "gawk"}


def processes() -> Iterator[tuple[int, str, bytes]]:
    """(pid, comm, command line) of every process on this machine that is still there to read."""
    for stat in all_stats():
        if (line := cmdline(stat.pid)) is not None:
            yield stat.pid, stat.comm, line


def leftovers(arg: str) -> list[int]:
    """Pids of `sleep <arg>` processes (an unusual arg, so nobody else's sleep matches)."""
    return [pid for pid, _comm, cmd in processes() if cmd.split(b"\0")[:2] == [b"sleep", arg.encode()]]


def test_watchdog_stops_the_probe_and_its_children_past_the_deadline() -> None:
    started = time.monotonic()
    result = LocalTransport().run(probe_command(interval_s=37.25, deadline_s=1, perf=False), timeout_s=30)
    assert time.monotonic() - started < 30  # the 1 s deadline, not the 37 s interval
    assert "@@pfdiag watchdog" in result.stdout
    with pytest.raises(ParseError, match="watchdog"):
        parse_probe(result.stdout)
    assert leftovers("37.25") == []


def test_watchdog_leaves_nothing_behind_when_the_probe_finishes_in_time() -> None:
    result = LocalTransport().run(probe_command(interval_s=1, top_n=3, deadline_s=41.5), timeout_s=30)
    parse_probe(result.stdout)
    deadline = time.monotonic() + 3
    while leftovers("41.5") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers("41.5") == []


@pytest.mark.workload
def test_output_stays_under_64_kib_with_2000_extra_processes() -> None:
    with sleepers(2000):
        result = LocalTransport().run(probe_command(interval_s=1, top_n=20), timeout_s=60)
        assert len(result.stdout) <= 65536
        totals = parse_probe(result.stdout).as_vars()["process_totals"]
        assert totals["seen"] >= 2000  # type: ignore[index]


def pfdiag_reducers() -> list[int]:
    """Pids of running awk processes that hold a pfdiag probe's markers in their command line."""
    return [pid for pid, comm, cmd in processes() if comm in AWKS and b"@@pfdiag " in cmd]


@pytest.mark.ssh
@pytest.mark.workload
def test_another_pfdiag_probe_on_the_host_and_its_ssh_session_are_not_culprits(ssh_fleet) -> None:
    """Two probes over SSH end during a third's interval: their sessions, reaped by sshd, carried
    ~1,270 minor faults/s into the listeners as exited children (a per-process storm pfdiag made)."""
    from diag.transport.sshasync import SSHTransport

    finished: list[float] = []

    def remote(name: str) -> None:
        t = SSHTransport(name, ssh_fleet.hosts[name], ssh_fleet.options, become=False)
        assert t.run(probe_command(interval_s=2), timeout_s=30).exit_code == 0
        t.close()
        finished.append(time.monotonic())

    others = [threading.Thread(target=remote, args=(name,)) for name in ssh_fleet.healthy[:2]]
    for thread in others:
        thread.start()
    # the others are sampling: their awk, shells and sessions are in our first snapshot (a session
    # still logging in then is another client's load, and counted: see the reducer's mark())
    deadline = time.monotonic() + 20
    while len(pfdiag_reducers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pfdiag_reducers()) >= 2
    started = time.monotonic()
    result = LocalTransport().run(probe_command(interval_s=3), timeout_s=30)
    for thread in others:
        thread.join()
    assert len(finished) == 2 and min(finished) > started  # they ended inside our interval
    sample = parse_probe(result.stdout)
    sshd = [p for p in sample.processes if p.comm.startswith("sshd")]
    listeners = {p.pid: name for name, p in ssh_fleet.processes.items()}
    assert all((p.children_minflt_per_s or 0) < 200 for p in sshd), (sshd, listeners)
    assert not [p for p in sample.processes if p.comm == "awk"]  # the other probes' reducers


def tickers() -> list[int]:
    """Pids of running watch awks (``awk -v self=... -v skip=...``), found without pfdiag's marker."""
    return [pid for pid, comm, cmd in processes() if comm in AWKS and b"-v\0self=" in cmd]


@pytest.mark.ssh
def test_a_pfdiag_watch_on_the_host_is_not_a_culprit(ssh_fleet, tmp_path: Path) -> None:
    """A watch at 0.2 s reads /proc through a child of its awk at every tick: its awk showed ~1,560
    minor/s (own + reaped children) in a triage before its command line carried pfdiag's marker."""
    name = ssh_fleet.healthy[0]
    one_host_inventory(ssh_fleet, tmp_path / "inv.ini", name)
    argv = [sys.executable, "-m", "diag", "watch", "-i", "inv.ini", "--every", "0.2", "--count", "100"]
    argv += ssh_options(ssh_fleet)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    watch = subprocess.Popen([*argv, "-o", "run"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not tickers() and time.monotonic() < deadline:
            time.sleep(0.02)
        (ticker,) = tickers()
        time.sleep(0.5)  # a few ticks: its awk has reaped children before our first sample too
        sample = parse_probe(LocalTransport().run(probe_command(interval_s=2), timeout_s=30).stdout)
        assert watch.poll() is None  # it was watching all along
    finally:
        watch.kill()
        watch.wait()
    assert not [p for p in sample.processes if p.pid == ticker or p.comm in {"awk", "cat"}], sample.processes
    sshd = [p for p in sample.processes if p.comm.startswith("sshd")]
    assert all((p.total_minflt_per_s or 0) < 200 for p in sshd), sshd


def running(comm: str) -> bool:
    """Whether a process named ``comm`` is running on this machine."""
    return any(c == comm for _pid, c, _cmd in processes())


@pytest.mark.ssh
@pytest.mark.workload
def test_an_ssh_session_that_logs_out_during_the_interval_is_not_the_listeners_storm(ssh_fleet) -> None:
    """A session alive at the first sample made its faults before the interval: when it logs out, the
    monitor reaps the session and the listener the monitor; none of that is the listener's load now."""
    from diag.transport.sshasync import SSHTransport

    # 64 MiB touched, then it names itself (prctl PR_SET_NAME) and sleeps past our first sample
    work = (
        "import ctypes, mmap, time; m = mmap.mmap(-1, 1 << 26); m.write(bytes(1 << 26)); "
        "ctypes.CDLL(None).prctl(15, b'pf-touched', 0, 0, 0); time.sleep(2)"
    )
    done: list[float] = []

    def session() -> None:
        t = SSHTransport("h", ssh_fleet.hosts[ssh_fleet.healthy[0]], ssh_fleet.options, become=False)
        assert t.run(f"python3 -c {shlex.quote(work)}", timeout_s=30).exit_code == 0
        t.close()
        done.append(time.monotonic())

    thread = threading.Thread(target=session)
    thread.start()
    deadline = time.monotonic() + 20
    while not running("pf-touched") and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    result = LocalTransport().run(probe_command(interval_s=3), timeout_s=30)
    thread.join()
    assert done and done[0] > started  # it logged out inside our interval
    sample = parse_probe(result.stdout)
    sshd = [p for p in sample.processes if p.comm.startswith("sshd")]
    assert all((p.children_minflt_per_s or 0) < 1000 for p in sshd), sshd
    # its ~33,000 faults were not there to be capped at the host-wide count of the interval
    assert not [k for p in sshd for k in sample.not_evaluable if k == f"processes.{p.pid}.children"]


def test_a_pfdiag_probe_started_during_the_interval_is_not_a_culprit() -> None:
    """Issue 16: another run's probe starting after our first snapshot (its awk is born in the interval,
    so the first snapshot cannot mark it) is pfdiag's load, not the host's."""
    ours = subprocess.Popen(
        ["/bin/sh", "-c", probe_command(interval_s=3, top_n=1000, perf=False)],
        stdout=subprocess.PIPE,
        text=True,
    )
    mine = set(pfdiag_reducers())
    deadline = time.monotonic() + 10
    while not (set(pfdiag_reducers()) - mine) and time.monotonic() < deadline:
        time.sleep(0.02)  # our own reducer's awk: started once its pipeline runs
    time.sleep(0.5)  # polling is over: let our first snapshot be taken before the other probe starts
    before = set(pfdiag_reducers())
    other = subprocess.Popen(
        ["/bin/sh", "-c", probe_command(interval_s=5, perf=False)], stdout=subprocess.PIPE, text=True
    )  # still sampling at our second snapshot
    deadline = time.monotonic() + 10
    while not (set(pfdiag_reducers()) - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    theirs = set(pfdiag_reducers()) - before
    out, _ = ours.communicate(timeout=30)
    other.communicate(timeout=30)
    assert theirs
    assert not [p for p in parse_probe(out).processes if p.pid in theirs]
