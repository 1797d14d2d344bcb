"""Sharded runs on a real Dask cluster over the real sshd fleet.

The test starts a real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (the workers
import pfdiag from this tree), and runs ``pfdiag run triage.yml --scheduler tcp://...`` and
``--workers 2`` against the session's sshd fleet. Every host must be in ``hosts.jsonl`` exactly once,
even when one worker is SIGKILLed mid-run; an unreachable scheduler is a clear error before any host
is contacted; and the verdicts must be those of a single-controller run on the same fleet.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from diag.cli import main
from tests.fixtures.hosts_jsonl import read_host_lines, wait_for_hosts
from tests.fixtures.inventories import host_line, write_inventory
from tests.fixtures.processes import cmdline, descendants
from tests.fixtures.ssh_argv import ssh_options
from tests.fixtures.sshd_fleet import Fleet, free_port

pytest.importorskip("distributed")
pytestmark = pytest.mark.ssh

REPO = Path(__file__).resolve().parent.parent
TRIAGE = str(REPO / "playbooks" / "triage.yml")
READY_TIMEOUT_S = 60.0
WORKER = [
    sys.executable,
    "-m",
    "distributed.cli.dask_worker",
    "--no-nanny",
    "--host",
    "127.0.0.1",
    "--no-dashboard",
]


@dataclass(slots=True)
class DaskCluster:
    """A scheduler and its workers, each a process of its own (so one can be SIGKILLed)."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _env() -> dict[str, str]:
    # as the README says to run workers for pfdiag: without Dask's per-thread stack profiler
    return {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}


def _wait_for_workers(address: str, n: int, cluster: DaskCluster) -> None:
    from distributed import Client

    with Client(address, timeout="30s", set_as_default=False) as client:
        try:
            client.wait_for_workers(n, timeout=READY_TIMEOUT_S)
        except TimeoutError:
            logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in cluster.logs)
            raise AssertionError(f"{n} Dask workers did not join {address}:\n{logs}") from None


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """``dask scheduler`` + two single-threaded ``dask worker``s (no nanny: a killed one stays dead)."""
    port = free_port("127.0.0.1")
    address = f"tcp://127.0.0.1:{port}"
    log = tmp_path / "scheduler.log"
    with log.open("wb") as out:
        argv = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--dashboard-address", ":0", "--no-show"]
        scheduler = subprocess.Popen(
            argv,
            env=_env(),
            stdout=out,
            stderr=out,
            cwd=tmp_path,
        )
    cluster = DaskCluster(address, scheduler, logs=[log])
    try:
        for n in range(2):
            wlog = tmp_path / f"worker{n}.log"
            with wlog.open("wb") as out:
                cluster.workers.append(
                    subprocess.Popen(
                        [*WORKER, address, "--nthreads", "1", "--name", f"w{n}"],
                        env=_env(),
                        stdout=out,
                        stderr=out,
                        cwd=tmp_path,
                    )
                )
            cluster.logs.append(wlog)
        _wait_for_workers(address, 2, cluster)
        yield cluster
    finally:
        cluster.stop()


def _inventory(fleet: Fleet, path: Path, names: list[str], interval_of: dict[str, int] | None = None) -> Path:
    lines = [host_line(fleet, name, interval_s=(interval_of or {}).get(name, 1)) for name in names]
    return write_inventory(path, lines)


def _verdicts(json_path: Path) -> dict[str, tuple[object, object]]:
    data = json.loads(json_path.read_text())
    return {name: (host["status"], host["verdict"]) for name, host in data["hosts"].items()}


def test_a_run_on_a_dask_cluster_writes_every_host_once(ssh_fleet, dask_cluster, tmp_path):
    names = list(ssh_fleet.healthy)
    inventory = _inventory(ssh_fleet, tmp_path / "inv", names)
    out, json_path = tmp_path / "run", tmp_path / "run.json"
    argv = [
        "run",
        TRIAGE,
        "-i",
        str(inventory),
        "-o",
        str(out),
        "--json",
        str(json_path),
        *ssh_options(ssh_fleet, 5),
    ]
    code = main([*argv, "--scheduler", dask_cluster.address])
    assert code == 0
    hosts = [entry["host"] for entry in read_host_lines(out)]
    assert sorted(hosts) == sorted(names)
    assert {status for status, _ in _verdicts(json_path).values()} == {"ok"}
    assert (out / "report.md").exists()
    assert json.loads((out / "run.json").read_text())["finished"]


def test_a_worker_killed_mid_run_loses_no_host_and_duplicates_none(ssh_fleet, dask_cluster, tmp_path):
    names = list(ssh_fleet.healthy)  # two shards of four: h01-h04 and h05-h08, one per worker
    fast = {names[0], names[len(names) // 2]}  # one host of each shard is in hosts.jsonl before the kill
    slow = {name: 1 if name in fast else 8 for name in names}
    inventory = _inventory(ssh_fleet, tmp_path / "inv", names, slow)
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "diag", "run", TRIAGE, "-i", str(inventory), "-o", str(out)]
    argv += [
        *ssh_options(ssh_fleet, 5),
        "--scheduler",
        dask_cluster.address,
        "--json",
        str(tmp_path / "r.json"),
    ]
    argv += ["-v"]  # a task line per host and task: shows which hosts sampled, and how often
    run = subprocess.Popen(argv, env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_hosts(out, fast, run, exactly=True, timeout_s=60)
        victim = dask_cluster.workers[0]
        assert victim.poll() is None
        os.kill(victim.pid, signal.SIGKILL)  # its shard's slow hosts are mid-sample
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr.decode()
    hosts = [entry["host"] for entry in read_host_lines(out)]
    assert sorted(hosts) == sorted(names), "every host once, none twice"
    sampled = [line for line in stdout.decode().splitlines() if line.startswith("ok: [") and "Sample" in line]
    # the killed worker's fast host was in before the kill: the rerun of its shard skips it
    assert sorted(line.split("]")[0][5:] for line in sampled) == sorted(names), sampled
    statuses = {entry["host"]: entry["result"]["status"] for entry in read_host_lines(out)}
    assert set(statuses.values()) == {"ok"}, statuses
    assert victim.poll() == -signal.SIGKILL


def test_an_unreachable_scheduler_is_a_clear_error_before_any_host_is_contacted(ssh_fleet, tmp_path, capsys):
    inventory = _inventory(ssh_fleet, tmp_path / "inv", list(ssh_fleet.healthy))
    out = tmp_path / "run"
    nobody = f"tcp://127.0.0.1:{free_port('127.0.0.1')}"
    code = main(
        [
            "run",
            TRIAGE,
            "-i",
            str(inventory),
            "-o",
            str(out),
            *ssh_options(ssh_fleet, 5),
            "-T",
            "2",
            "--scheduler",
            nobody,
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and nobody in err and "Traceback" not in err
    assert not (out / "hosts.jsonl").exists()


def test_a_scheduler_that_is_not_a_url_is_a_bad_option(tmp_path, capsys):
    assert main(["run", TRIAGE, "-o", str(tmp_path / "run"), "--scheduler", "localhost:8786"]) == 5
    assert "tcp://HOST:PORT" in capsys.readouterr().err


def test_workers_2_gives_the_verdicts_of_a_single_controller(ssh_fleet, tmp_path, quiet_machine):
    # Every "host" is this machine, so each host's sample sees the other hosts' SSH sessions: an sshd
    # session that reaps a finished probe carries its ~2,000 faults/s as exited children, a real
    # per-process minor storm on this one kernel whose timing differs run to run (on a real fleet each
    # host has its own kernel). The per-process threshold is raised for both runs alike, so the
    # comparison is between the two controllers, not between two moments of this machine.
    inventory = ssh_fleet.write_inventory(tmp_path / "inv")  # healthy and bad hosts
    single, sharded = tmp_path / "single.json", tmp_path / "sharded.json"
    base = ["run", TRIAGE, "-i", str(inventory), "-e", "interval_s=1", "-e", "proc_minflt_per_s=100000"]
    base += ssh_options(ssh_fleet, 5)
    assert main([*base, "-o", str(tmp_path / "a"), "--json", str(single)]) == 4
    assert main([*base, "-o", str(tmp_path / "b"), "--json", str(sharded), "--workers", "2"]) == 4
    assert _verdicts(sharded) == _verdicts(single)
    assert sorted(e["host"] for e in read_host_lines(tmp_path / "b")) == sorted(ssh_fleet.hosts)


def test_without_scheduler_or_workers_dask_is_never_imported(tmp_path):
    code = (
        "import sys, diag.cli, diag.run.service\n"
        "from diag.cli import main\n"
        f"main(['run', {TRIAGE!r}, '-e', 'interval_s=0.2', '-o', {str(tmp_path / 'run')!r}])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _start_run(fleet: Fleet, tmp_path: Path, inventory: Path, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "diag", "run", TRIAGE, "-i", str(inventory), "-o", str(tmp_path / "run")]
    argv += [*ssh_options(fleet, 5), *extra]
    return subprocess.Popen(argv, env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_lost_cluster_ends_the_run_with_what_arrived_and_exit_99(ssh_fleet, dask_cluster, tmp_path):
    names = list(ssh_fleet.healthy)
    fast = {names[0], names[len(names) // 2]}
    inventory = _inventory(ssh_fleet, tmp_path / "inv", names, {n: 1 if n in fast else 30 for n in names})
    run = _start_run(ssh_fleet, tmp_path, inventory, "--scheduler", dask_cluster.address)
    try:
        wait_for_hosts(tmp_path / "run", fast, run, exactly=True, timeout_s=60)
        os.kill(dask_cluster.scheduler.pid, signal.SIGKILL)
        _stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 99, stderr.decode()
    assert "Traceback" not in stderr.decode(), stderr.decode()
    statuses = {e["host"]: e["result"]["status"] for e in read_host_lines(tmp_path / "run")}
    assert statuses == {name: "ok" for name in fast}
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["interrupted"] is True


def test_ctrl_c_cancels_the_shards_and_keeps_what_arrived(ssh_fleet, dask_cluster, tmp_path):
    names = list(ssh_fleet.healthy)
    fast = {names[0], names[len(names) // 2]}
    inventory = _inventory(ssh_fleet, tmp_path / "inv", names, {n: 1 if n in fast else 30 for n in names})
    json_path = tmp_path / "r.json"
    run = _start_run(
        ssh_fleet, tmp_path, inventory, "--scheduler", dask_cluster.address, "--json", str(json_path)
    )
    try:
        wait_for_hosts(tmp_path / "run", fast, run, exactly=True, timeout_s=60)
        started = time.monotonic()
        run.send_signal(signal.SIGINT)
        _stdout, stderr = run.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 99, stderr.decode()
    assert took < 20, f"Ctrl-C took {took:.1f} s (the slow hosts sample for 30 s)"
    lines = read_host_lines(tmp_path / "run")
    assert len(lines) == len({e["host"] for e in lines})
    assert {e["host"] for e in lines if e["result"]["status"] == "ok"} == fast
    hosts = json.loads(json_path.read_text())["hosts"]
    assert {name for name, host in hosts.items() if host["status"] == "interrupted"} == set(names) - fast


def _pfdiag(tmp_path: Path, *args: str, timeout_s: float = 90) -> tuple[int, str, float]:
    """``python -m diag run triage.yml ARGS`` on this machine: (exit code, stderr, seconds it took)."""
    argv = [sys.executable, "-m", "diag", "run", TRIAGE, "-e", "interval_s=0.2", "-o", str(tmp_path / "run")]
    started = time.monotonic()
    done = subprocess.run(
        [*argv, *args], env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=timeout_s
    )
    return done.returncode, done.stderr, time.monotonic() - started


@contextlib.contextmanager
def _silent_listener() -> Iterator[str]:
    """A loopback socket that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"tcp://127.0.0.1:{sock.getsockname()[1]}"


@contextlib.contextmanager
def _http_server() -> Iterator[str]:
    """A real HTTP server on loopback: it waits for a request line that Dask's handshake never sends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("peer", [_silent_listener, _http_server], ids=["silent", "http"])
def test_a_scheduler_address_where_no_dask_answers_is_an_error_within_T(tmp_path, peer):
    with peer() as address:
        code, err, took = _pfdiag(tmp_path, "-T", "3", "--scheduler", address)
    assert code == 1, err
    assert f"ERROR: {address}: cannot reach the Dask scheduler: no Dask answer within 3 s (-T)" in err
    assert "Traceback" not in err
    assert took < 45, f"{took:.0f} s with -T 3 (the start-up and dask's import included)"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "address", ["tcp://", "tcp://[::1", "tls://", "tcp://127.0.0.1", "tcp://127.0.0.1:70000"]
)
def test_a_malformed_scheduler_address_is_a_bad_option_saying_the_form(tmp_path, address):
    code, err, _ = _pfdiag(tmp_path, "--scheduler", address)
    assert code == 5, err
    assert f"--scheduler wants tcp://HOST:PORT or tls://HOST:PORT, got {address!r}" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_tls_scheduler_without_dasks_tls_settings_says_which_are_needed(tmp_path):
    nobody = f"tls://127.0.0.1:{free_port('127.0.0.1')}"
    code, err, _ = _pfdiag(tmp_path, "--scheduler", nobody)
    assert code == 5, err
    assert f"--scheduler {nobody} needs Dask's TLS settings" in err
    assert (
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE" in err and "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT" in err
    )
    assert "Traceback" not in err


@pytest.mark.parametrize("workers", ["1000000", "257"])
def test_more_local_workers_than_the_bound_is_a_bad_option(tmp_path, workers):
    code, err, _ = _pfdiag(tmp_path, "--workers", workers, timeout_s=60)
    assert code == 5, err
    assert f"--workers must be a whole number from 1 to 256, got {workers}" in err


def _probe_running_below(root: int) -> bool:
    return any(b"\0pfdiag\0probe\0" in (cmdline(pid) or b"") for pid in descendants([root]))


@pytest.mark.parametrize("to_group", [True, False], ids=["terminal-ctrl-c", "sigint-to-pfdiag"])
def test_ctrl_c_with_local_workers_is_one_line_and_exit_99(tmp_path, to_group):
    argv = [sys.executable, "-m", "diag", "run", TRIAGE, "-e", "interval_s=60", "-o", str(tmp_path / "run")]
    run = subprocess.Popen(
        [*argv, "--workers", "2"],
        env=_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
    )
    try:
        deadline = time.monotonic() + 90
        while not _probe_running_below(run.pid):  # the shard samples localhost on a worker process
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the probe never started on a worker"
            time.sleep(0.2)  # polling interval of /proc
        if to_group:
            os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the workers get it too
        else:
            run.send_signal(signal.SIGINT)
        _stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    err = stderr.decode()
    assert run.returncode == 99, err
    assert "Task exception" not in err and "Traceback" not in err, err
    assert err.strip().splitlines() == ["interrupted: finished hosts are saved in the run folder"], err
