"""The host deadline is the engine's: ``--host-deadline`` (else 60 s + the sampling intervals) bounds a
whole host, and the transport's own stages stop there too."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from diag.cli import main
from diag.run import service as api

REPO = Path(__file__).resolve().parent.parent


def test_host_deadline_flag_stops_a_slow_local_command(tmp_path: Path, capsys: Any) -> None:
    playbook = tmp_path / "slow.yml"
    playbook.write_text("- hosts: all\n  tasks:\n    - command: sleep 20\n")
    code = main(["run", str(playbook), "--host-deadline", "1", "-o", str(tmp_path / "run"),
                 "--json", str(tmp_path / "r.json")])  # fmt: skip
    capsys.readouterr()
    assert code == 2
    host = json.loads((tmp_path / "r.json").read_text())["hosts"]["localhost"]
    assert host["status"] == "timeout"
    # the command got what was left of the 1 s deadline
    assert re.search(r"command timed out after 0\.\d+ s and was killed", host["reason"]), host["reason"]
    assert host["elapsed_s"] < 20


def test_default_host_deadline_is_60_s_plus_the_sampling_intervals() -> None:
    triage = str(REPO / "playbooks" / "triage.yml")
    request = api.RunRequest(playbook=triage, extra_vars=("interval_s=30",))
    assert api._deadline_s(request, api.prepare(request)) == 60 + 30
    plain = api.RunRequest(playbook=triage)
    assert api._deadline_s(plain, api.prepare(plain)) == 60 + 5  # triage.yml's interval_s: 5
    given = api.RunRequest(playbook=triage, host_deadline_s=7.5)
    assert api._deadline_s(given, api.prepare(given)) == 7.5
