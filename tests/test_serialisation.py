"""One serialiser: every record that crosses a stage goes to plain data and back through
``diag.shared.records``, with the JSON keys pfdiag has always written (run folders on disk, tests/data/runs,
load and write back byte for byte)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diag.findings import Culprit, Finding, HostResult, Remediation, Verdict
from diag.history.diff import Diff, Problem
from diag.runs.store import load_recording
from diag.shared.errors import ReportError
from diag.shared.records import from_data, to_data
from diag.transport.recording import RecordedCommand

RUNS = Path(__file__).resolve().parent / "data" / "runs"
STORM = Problem("web1", "minor-storm", "java", "verdict", "warning", "storm", "persisting", "t0", 3, "t1")
RECORDS: list[Any] = [
    Finding("host-minor-rate", "Host-wide minor faults", "fail", "warning", "m", 5.5e4, ">=", 5e4,
            {"processes_over": ["java"]}, None, "host.minflt_per_s"),
    Finding("oom-kills", "OOM kills", "fail", "critical", "2 OOM kills", value=2),  # a count stays a count
    Culprit(7, "java", 5e3, 0.0, 0, 1024, "/system.slice", 2.0, 0.0),
    Remediation("Give it memory", "text", ("free -m", "vmstat 1"), "major-swap"),
    Verdict("minor-storm", "warning", "storm", (Culprit(7, "java", 5e3, 0.0),), "Verdict - storm"),
    STORM,
    Diff(new=(STORM,), unknown=(STORM,)),
    RecordedCommand("pfdiag probe", 0, "out\n", "err", 2.013),
]  # fmt: skip


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_records_and_json(record: Any) -> None:
    data = json.loads(json.dumps(to_data(record)))
    assert from_data(type(record), data) == record
    assert json.dumps(to_data(from_data(type(record), data))) == json.dumps(to_data(record))


def test_the_json_keys_are_those_pfdiag_has_always_written() -> None:
    assert list(to_data(RECORDS[0])) == [
        "check", "task", "status", "severity", "message", "value", "op", "threshold", "evidence", "reason",
        "measures",
    ]  # fmt: skip
    assert to_data(RECORDS[1])["value"] == 2 and json.dumps(to_data(RECORDS[1])["value"]) == "2"
    assert list(to_data(RECORDS[4])) == ["code", "severity", "summary", "culprits", "task"]
    assert list(to_data(STORM)) == [
        "host", "code", "comm", "kind", "severity", "summary", "status", "first_seen", "streak",
        "last_notified",
    ]  # fmt: skip
    assert list(to_data(RECORDS[6])) == ["new", "persisting", "resolved", "unknown"]
    assert to_data(RECORDS[7]) == {
        "key": "pfdiag probe", "exit_code": 0, "stdout": "out\n", "stderr": "err", "elapsed_s": 2.013,
    }  # fmt: skip


def test_recorded_runs_load_and_write_back_their_findings_and_remediations_byte_for_byte() -> None:
    for hosts in sorted(RUNS.glob("*/hosts.jsonl")):
        for line in hosts.read_text().splitlines():
            old = json.loads(line)["result"]
            new = HostResult.from_dict(old).to_dict()
            for key in ("findings", "remediation", "culprits"):
                for written, recorded in zip(new[key], old[key], strict=True):  # and the keys added since
                    kept = {k: written[k] for k in recorded}
                    assert json.dumps(kept) == json.dumps(recorded), (hosts.parent.name, old["host"], key)


def test_a_malformed_recorded_command_names_the_line(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text((RUNS / "quiet" / "run.json").read_text())
    line = json.loads((RUNS / "quiet" / "hosts.jsonl").read_text().splitlines()[0])
    line["commands"] = [{"key": "pfdiag probe", "exit_code": "zero", "stdout": ""}]
    (run_dir / "hosts.jsonl").write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(ReportError, match="exit_code"):
        load_recording(run_dir)
