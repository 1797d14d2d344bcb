"""Record a live run over the suite's real sshd fleet, then replay it without contacting anything.

The recorded hosts.jsonl holds every command each host answered (the probe and a ``command:`` task),
keyed so the replay transport answers the same tasks again; the replayed hosts' addresses are then
pointed at a listener that counts connections, which must see none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from diag.runs.store import load_run
from tests.fixtures.hosts_jsonl import command_stdout, read_host_lines, write_host_lines
from tests.fixtures.inventories import host_line, write_inventory
from tests.fixtures.ssh_argv import ssh_options
from tests.fixtures.sshd_fleet import Blackhole, Fleet, loopback_address

pytestmark = pytest.mark.ssh

PLAYBOOK = """\
- name: Record and replay
  hosts: all
  vars:
    minflt_alarm_per_s: 1000000000
  tasks:
    - name: Sample
      sample: {interval_s: 1, top_n: 5, perf: false}
      register: s
    - name: Load average
      command: cat /proc/loadavg
      register: load
    - name: Storm
      when: s.rates.minflt_per_s >= minflt_alarm_per_s
      verdict:
        code: minor-storm
        severity: warning
        summary: "{{ s.rates.minflt_per_s }} minor/s, load {{ load.stdout | trim }}"
    - name: Quiet
      verdict:
        code: ok
        summary: "{{ s.rates.minflt_per_s }} minor/s, load {{ load.stdout | trim }}"
"""


def pfdiag(capsys: Any, *argv: str) -> int:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    return code


def summaries(run_dir: Path) -> dict[str, tuple[str, str | None, str | None]]:
    return {
        h.host: (h.status, *((h.verdict.code, h.verdict.summary) if h.verdict else (None, h.reason)))
        for h in load_run(run_dir).hosts
    }


def point_hosts_at(run_dir: Path, address: str, port: int) -> None:
    """Rewrite every recorded host's address: a replay that connected anywhere would connect there."""
    entries = read_host_lines(run_dir)
    for entry in entries:
        entry["vars"].update(ansible_host=address, ansible_port=port)
    write_host_lines(run_dir, entries)


def test_a_live_ssh_run_replays_with_the_same_verdicts_and_contacts_nothing(
    ssh_fleet: Fleet, tmp_path: Path, capsys: Any
) -> None:
    playbook = tmp_path / "record.yml"
    playbook.write_text(PLAYBOOK)
    inventory = tmp_path / "hosts.ini"
    lines = ["[healthy]", host_line(ssh_fleet, "h01"), host_line(ssh_fleet, "h02")]
    write_inventory(inventory, [*lines, "[bad]", host_line(ssh_fleet, "refused")])

    live = tmp_path / "live"
    argv = ["run", str(playbook), "-i", str(inventory), "-o", str(live), *ssh_options(ssh_fleet, 3)]
    assert pfdiag(capsys, *argv) == 4  # refused is unreachable
    recorded = summaries(live)
    assert recorded["refused"][0] == "unreachable"
    assert {recorded[h][1] for h in ("h01", "h02")} == {"ok"}
    entries = {e["host"]: e for e in read_host_lines(live)}
    assert [c["key"] for c in entries["h01"]["commands"]] == ["pfdiag probe", "cat /proc/loadavg"]
    # the probe's answer is stored once, in its recorded command, and read back as the host's raw output
    assert "raw" not in entries["h01"] and entries["h01"]["raw_command"] == 0
    assert "@@pfdiag" in command_stdout(entries["h01"]["commands"][0])
    assert entries["h01"]["vars"]["ansible_port"] == ssh_fleet.hosts["h01"]["ansible_port"]
    assert entries["refused"]["commands"] == []

    listener = Blackhole(loopback_address(40))
    try:
        point_hosts_at(live, loopback_address(40), listener.port)
        same = tmp_path / "same"
        assert pfdiag(capsys, "run", str(playbook), "--replay", str(live), "-o", str(same)) == 4
        assert summaries(same) == recorded  # the load average too: the command's recorded answer
        storm = tmp_path / "storm"
        argv = ["run", str(playbook), "--replay", str(live), "-o", str(storm), "-e", "minflt_alarm_per_s=0"]
        assert pfdiag(capsys, *argv) == 4
        assert {h: v[1] for h, v in summaries(storm).items()} == {
            "h01": "minor-storm", "h02": "minor-storm", "refused": None
        }  # fmt: skip
        again = tmp_path / "again"  # a replay records what it answered: it can be replayed in turn
        assert pfdiag(capsys, "run", str(playbook), "--replay", str(same), "-o", str(again)) == 4
        assert summaries(again) == recorded
        assert listener.accepted == []  # nothing was contacted
    finally:
        listener.stop()
    meta = json.loads((storm / "run.json").read_text())
    assert meta["replay_of"] == str(live) and meta["inventory"] == [str(inventory)]
