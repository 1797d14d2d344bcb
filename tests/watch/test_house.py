"""The watch reads its playbook and selects its hosts through ``run``'s code: a stray or hostile
``./triage.yml`` is refused as ``pfdiag run triage.yml`` refuses it (exit 4, the same message), and a valid
one gives the thresholds a run would check."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main


def alias_bomb() -> str:
    """Nine levels of nine aliases: 9^10 values once expanded, a few hundred bytes as text."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def first_error(err: str) -> str:
    return next(line for line in err.splitlines() if line.startswith("ERROR:"))


@pytest.mark.parametrize("kind", ["alias bomb", "oversized", "not a playbook"])
def test_a_stray_triage_yml_in_the_cwd_is_refused_by_watch_exactly_as_by_run(
    kind: str, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    stray = tmp_path / "triage.yml"
    if kind == "alias bomb":
        stray.write_text(alias_bomb())
    elif kind == "oversized":
        with stray.open("wb") as f:  # sparse: over the 64 MiB input bound without writing it
            os.truncate(f.fileno(), 65 * 1024 * 1024)
    else:
        stray.write_text("shopping: [milk, eggs]\n")
    assert main(["run", "triage.yml", "-o", "r"]) == 4
    run_error = first_error(capsys.readouterr().err)
    assert main(["watch", "--every", "0.2", "--count", "1", "-o", "w"]) == 4
    assert first_error(capsys.readouterr().err) == run_error
    assert str(stray) in run_error and not (tmp_path / "w").exists()


def test_a_valid_triage_yml_in_the_cwd_gives_the_watch_its_thresholds_as_it_gives_run_its_vars(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "triage.yml").write_text(
        "- name: local triage\n  hosts: all\n  vars:\n    proc_minflt_per_s: 7\n  tasks:\n"
        "    - name: say\n      debug:\n        msg: '{{ proc_minflt_per_s }}'\n"
    )
    assert main(["watch", "--every", "0.2", "--count", "1", "-o", "w"]) == 0
    assert json.loads((tmp_path / "w" / "run.json").read_text())["thresholds"]["proc_minflt_per_s"] == 7.0


def test_the_watch_streams_through_any_registered_transport_not_only_the_local_name(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Streaming is a method of the Transport protocol: a transport registered under a new
    ``ansible_connection`` name is watched like local and ssh (no name check, no getattr)."""
    from diag.transport import TRANSPORTS, register_transport
    from diag.transport.local import LocalTransport

    streams: list[str] = []

    class CountingLocal(LocalTransport):
        def stream(self, command: str) -> Any:
            streams.append(command)
            return super().stream(command)

    monkeypatch.chdir(tmp_path)
    (tmp_path / "inv.ini").write_text("box ansible_connection=counting\n")
    register_transport("counting", lambda host, hostvars, options, become, deadline: CountingLocal(host))
    try:
        assert main(["watch", "-i", "inv.ini", "--every", "0.2", "--count", "2", "-o", "w"]) == 0
    finally:
        TRANSPORTS.pop("counting")
    events = [json.loads(line) for line in (tmp_path / "w" / "events.jsonl").read_text().splitlines()]
    assert len(streams) == 1 and streams[0].startswith("exec awk")
    assert [e["host"] for e in events if e["type"] == "sample"] == ["box", "box"]


def test_a_replayed_host_says_it_cannot_stream() -> None:
    from diag.shared.errors import TransportError
    from diag.transport.replay import ReplayTransport

    with pytest.raises(TransportError, match="a replayed host cannot stream") as raised:
        ReplayTransport("db1", []).stream("cat")
    assert raised.value.state == "failed" and raised.value.where == "db1"


def test_the_report_of_a_watch_without_history_keeps_its_baseline_event_without_a_warning(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """The watch says once, with host null, that no host has a history; its report read that line
    as broken ("needs a 'type' and a 'host'") and skipped it with a warning."""
    monkeypatch.chdir(tmp_path)
    assert main(["watch", "--every", "0.2", "--count", "1", "-o", "w"]) == 0
    capsys.readouterr()
    assert main(["report", "w"]) == 0
    out, err = capsys.readouterr()
    assert "WARNING" not in err and "skipped" not in err, err
    assert "BASELINE every host: no history" in out
