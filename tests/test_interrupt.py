"""Interrupting a fleet run: SIGINT, SIGTERM and SIGKILL of `python -m diag run` over the real sshd fleet.

Half the hosts sample for 1 s, the other half for SLOW_INTERVAL_S (a host var, so one playbook). Once the
fast hosts are in hosts.jsonl the controller gets a signal. Every finished host must be on disk as a
whole JSON line, SIGINT/SIGTERM must end the run at once with exit 99 and the slow hosts marked
``interrupted``, `pfdiag report RUN_DIR` must render what is there (even after SIGKILL, even with a torn
last line), and no probe may be left running on the hosts once its watchdog's bound has passed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diag.cli import main
from tests.fixtures.hosts_jsonl import saved_hosts, wait_for_hosts
from tests.fixtures.inventories import host_line, write_inventory
from tests.fixtures.processes import descendants
from tests.fixtures.ssh_argv import ssh_options
from tests.fixtures.sshd_fleet import Fleet

pytestmark = pytest.mark.ssh

REPO = Path(__file__).resolve().parent.parent
TRIAGE = str(REPO / "playbooks" / "triage.yml")
SLOW_INTERVAL_S = 20
COMMAND_TIMEOUT_S = 24  # the remote watchdog kills a probe after this, with or without the controller
WATCHDOG_BOUND_S = COMMAND_TIMEOUT_S + 5  # + the watchdog's TERM-to-KILL grace and a margin


def write_fast_and_slow(fleet: Fleet, path: Path) -> tuple[list[str], list[str]]:
    """Healthy hosts only; the first half samples 1 s, the rest SLOW_INTERVAL_S. Returns (fast, slow)."""
    names = list(fleet.healthy)
    fast, slow = names[: len(names) // 2], names[len(names) // 2 :]
    write_inventory(
        path, [host_line(fleet, n, interval_s=1 if n in fast else SLOW_INTERVAL_S) for n in names]
    )
    return fast, slow


def start_run(fleet: Fleet, tmp_path: Path, inventory: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "diag", "run", TRIAGE, "-i", str(inventory), "-o", str(tmp_path / "run")]
    argv += ssh_options(fleet)
    argv += ["--command-timeout", str(COMMAND_TIMEOUT_S)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def session_pids(fleet: Fleet) -> set[int]:
    """Every live process below the fleet's sshd daemons: SSH sessions and what they run."""
    return descendants(proc.pid for proc in fleet.processes.values())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_interrupted_fleet_run_keeps_every_finished_host_and_leaves_no_probe_behind(
    ssh_fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str], sig: signal.Signals
) -> None:
    fast, slow = write_fast_and_slow(ssh_fleet, tmp_path / "inv.ini")
    run_dir = tmp_path / "run"
    before = session_pids(ssh_fleet)  # other tests' sessions on the shared fleet are not ours
    started = time.monotonic()
    proc = start_run(ssh_fleet, tmp_path, tmp_path / "inv.ini")
    try:
        wait_for_hosts(run_dir, fast, proc)
        assert session_pids(ssh_fleet) - before, "the slow hosts' probes should be running now"
        signalled = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in out + err

    saved = saved_hosts(run_dir)
    assert all(saved[name]["status"] == "ok" and saved[name]["verdict"] for name in fast)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        with (run_dir / "hosts.jsonl").open("a") as handle:
            handle.write('{"host": "torn", "result": {"ho')  # the kill landed mid-write
    else:
        assert proc.returncode == 99, err
        # The slow hosts' probes were cut at the signal, not waited for.
        assert time.monotonic() - signalled < SLOW_INTERVAL_S / 2
        assert {saved[name]["status"] for name in slow} == {"interrupted"}
        assert all("interrupted" in str(saved[name]["reason"]) for name in slow)
        assert json.loads((run_dir / "run.json").read_text())["interrupted"] is True

    capsys.readouterr()
    assert main(["report", str(run_dir), "-o", str(tmp_path / "again.md")]) == 0
    assert "interrupted" in (tmp_path / "again.md").read_text().lower()
    assert main(["report", str(run_dir), "--format", "json"]) == 0
    rendered = json.loads(capsys.readouterr().out)
    assert rendered["run"]["interrupted"] is True
    assert {name: rendered["hosts"][name]["status"] for name in fast} == dict.fromkeys(fast, "ok")

    # Nothing of ours keeps running on the hosts past the remote watchdog's bound.
    while (left := session_pids(ssh_fleet) - before) and time.monotonic() - started < WATCHDOG_BOUND_S:
        time.sleep(0.5)  # polling interval
    assert not left, f"still running on the fleet after {WATCHDOG_BOUND_S} s: {sorted(left)}"
