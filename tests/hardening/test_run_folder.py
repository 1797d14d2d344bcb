"""A run folder read back (issue 8, section 1 and 2): planned hosts that never finished are named, a
``run.json`` or ``hosts.jsonl`` of the wrong shape is one error, and a second Ctrl-C records a running
host as ``interrupted`` on disk.
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
from tests.fixtures.hosts_jsonl import read_host_lines, wait_for_hosts

REPO = Path(__file__).resolve().parents[2]
SLOW = """
- name: slow
  hosts: all
  vars:
    # setsid: the sleep leaves the command's process group, so closing the host cannot end it
    stall: "setsid sh -c 'echo $$ > b.pid; exec sleep 60'"
  tasks:
    - name: quick on a, stalled on b
      command: "{{ 'true' if inventory_hostname == 'a' else stall }}"
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _run_dir(tmp_path: Path, meta: object, hosts: str | None = "") -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    if hosts is not None:
        (run / "hosts.jsonl").write_text(hosts)
    return run


META = {"playbook": "t.yml", "inventory": [], "limit": None, "started": "2026-01-01T00:00:00+0000"}


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ([1, 2], "must hold a JSON object, got list"),
        ("just a string", "is not JSON"),
        ('"a string"', "got str"),
        ({**META, "inventory": "prod"}, "'inventory' must be list"),
        ({**META, "interrupted": "yes"}, "'interrupted' must be bool"),
        ({**META, "interval_s": True}, "'interval_s' must be"),
        ({"playbook": "t.yml"}, "lacks the field"),
    ],
)
def test_a_run_json_of_the_wrong_shape_is_one_error(tmp_path, capsys, meta, message):
    run = _run_dir(tmp_path, meta)
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR:") and message in err and "internal error" not in err


def test_undecodable_run_json_says_where(tmp_path, capsys):
    run = _run_dir(tmp_path, "{}")
    (run / "run.json").write_bytes(b'{"playbook": "\xff"}')
    assert main(["report", str(run)]) == 1
    assert "not UTF-8" in capsys.readouterr().err


def test_hosts_jsonl_as_a_directory_is_an_error(tmp_path, capsys):
    run = _run_dir(tmp_path, META, hosts=None)
    (run / "hosts.jsonl").mkdir()
    assert main(["report", str(run)]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_a_missing_hosts_jsonl_names_the_hosts_that_never_finished(tmp_path, capsys):
    run = _run_dir(tmp_path, {**META, "planned_hosts": ["web1", "web2"]}, hosts=None)
    assert main(["report", str(run)]) == 1
    out = capsys.readouterr()
    assert "hosts.jsonl is missing" in out.err and "2 planned host(s) never finished: web1, web2" in out.err
    assert "web1" in out.out and "never finished" in out.out


def test_a_cut_hosts_jsonl_says_so_and_names_the_lost_host(tmp_path, capsys):
    assert main(["run", str(REPO / "playbooks" / "triage.yml"), "-e", "interval_s=0.2", "-o", "r"]) == 0
    run = tmp_path / "r"
    meta = json.loads((run / "run.json").read_text())
    assert meta["planned_hosts"] == ["localhost"]
    line = (run / "hosts.jsonl").read_text()
    (run / "hosts.jsonl").write_text(line[: len(line) // 2])
    capsys.readouterr()
    assert main(["report", str(run), "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "hosts.jsonl:1 is cut short" in out.err and "never finished: localhost" in out.err
    assert json.loads(out.out)["hosts"]["localhost"]["status"] == "interrupted"


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_records_a_stalled_running_host_as_interrupted_on_disk(tmp_path, presses):
    (tmp_path / "slow.yml").write_text(SLOW)
    (tmp_path / "inv.ini").write_text("a ansible_connection=local\nb ansible_connection=local\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "diag", "run", "slow.yml", "-i", "inv.ini", "-o", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a terminal's Ctrl-C: SIGINT with its default handler (a background job would ignore it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_hosts(tmp_path / "run", ["a"], proc)
    signalled = time.monotonic()
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)  # between two presses of Ctrl-C
    _, err = proc.communicate(timeout=45)
    assert proc.returncode == 99, err
    assert time.monotonic() - signalled < 30  # not the 60 s the stalled command would take
    saved = {entry["host"]: entry["result"] for entry in read_host_lines(tmp_path / "run")}
    assert saved["a"]["status"] == "ok"
    assert saved["b"]["status"] == "interrupted" and "while this host was running" in saved["b"]["reason"]
    os.kill(int((tmp_path / "b.pid").read_text()), signal.SIGKILL)  # the stalled command we started
