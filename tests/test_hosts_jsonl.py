"""hosts.jsonl at fleet size (issue 19): each thing stored once, read back one line at a time.

A 1,000-host recording is made by replaying tests/data/runs/quiet (5 real hosts) cloned to 1,000; its
lines must stay under 25 KB a host (they were ~71 KB: the probe's answer twice, the result's views of
the sample twice) and replay to the same results. ``pfdiag report`` of a 2,000-host folder must not
hold the hosts' raw outputs: its peak traced memory is compared with that of the same folder whose
lines carry no output at all (tracemalloc). A replay, its report and exports included, holds each finished
host in brief: what it holds grows with the hosts in flight, not with the hosts done.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from diag.findings import Finding, HostResult
from diag.runs.store import host_line, load_recording, read_host_line
from diag.shared.errors import ReportError
from diag.shared.secrets import Redactor
from diag.transport.recording import RecordedCommand

REPO = Path(__file__).resolve().parent.parent
QUIET = REPO / "tests" / "data" / "runs" / "quiet"
TRIAGE = str(REPO / "playbooks" / "triage.yml")
MAX_BYTES_PER_HOST = 25_000


def clone(source: Path, folder: Path, hosts: int, *, outputs: bool = True) -> Path:
    """``source``'s hosts cloned to ``hosts`` hosts in 10 groups (``outputs`` False: no raw output
    nor recorded command on any line)."""
    entries = [json.loads(line) for line in (source / "hosts.jsonl").read_text().splitlines()]
    folder.mkdir(parents=True)
    meta = json.loads((source / "run.json").read_text())
    meta.pop("planned_hosts", None)
    (folder / "run.json").write_text(json.dumps(meta))
    with (folder / "hosts.jsonl").open("w") as out:
        for i in range(hosts):
            entry = entries[i % len(entries)]
            name = f"h{i:05d}"
            line = {
                **entry,
                "host": name,
                "result": {**entry["result"], "host": name, "group_names": [f"g{i % 10}"]},
            }
            if not outputs:
                line = {k: v for k, v in line.items() if k not in ("raw", "raw_command")} | {"commands": []}
            out.write(json.dumps(line) + "\n")
    return folder


def pfdiag(capsys: Any, *argv: str) -> int:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err, err
    return code


def results(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Each host's stored result but its elapsed time (the one thing a replay measures anew)."""
    lines = map(json.loads, (run_dir / "hosts.jsonl").read_text().splitlines())
    return {e["host"]: {k: v for k, v in e["result"].items() if k != "elapsed_s"} for e in lines}


def test_a_1000_host_recording_writes_at_most_25_kb_a_host_and_replays_identically(
    tmp_path: Path, capsys: Any
) -> None:
    source = clone(QUIET, tmp_path / "source", 1000)
    recorded = tmp_path / "recorded"
    assert pfdiag(capsys, "run", TRIAGE, "--replay", str(source), "-o", str(recorded)) == 0
    size = (recorded / "hosts.jsonl").stat().st_size
    assert size <= 1000 * MAX_BYTES_PER_HOST, f"{size / 1000:.0f} bytes a host"
    longest = max(len(line) for line in (recorded / "hosts.jsonl").read_bytes().splitlines())
    assert longest <= MAX_BYTES_PER_HOST, f"the longest line: {longest} bytes"  # the bench's hosts: its 1st

    recording = load_recording(recorded)  # every host's probe answer is there, once, and reads back
    assert len(recording.hosts) == 1000
    assert all(h.result.raw and [c.stdout for c in h.commands] == [h.result.raw] for h in recording.hosts)

    again = tmp_path / "again"  # the replay answers every recorded command: every host ok, same result
    assert pfdiag(capsys, "run", TRIAGE, "--replay", str(recorded), "-o", str(again)) == 0
    first, second = results(recorded), results(again)
    assert len(first) == 1000 and {r["status"] for r in first.values()} == {"ok"}
    assert second == first


def test_a_stored_result_leaves_out_only_what_reads_back_the_same() -> None:
    """Null fields and fields at their default (0 counters, false flags) are not written; every recorded
    host's stored line reads back into the result it was, to the byte of its ``--json`` form."""
    for hosts in sorted((REPO / "tests" / "data" / "runs").glob("*/hosts.jsonl")):
        for line in hosts.read_text().splitlines():
            host = HostResult.from_dict(json.loads(line)["result"])
            stored = json.loads(json.dumps(host.to_stored()))
            assert json.dumps(HostResult.from_dict(stored).to_dict()) == json.dumps(host.to_dict())
            if host.sample is not None and host.sample.processes:
                first = stored["sample"]["processes"][0]
                assert all(first.get(k) not in (0, False) for k in ("minflt_delta", "new", "majflt_delta"))


def _report_peak_bytes(capsys: Any, run_dir: Path) -> int:
    tracemalloc.start()
    try:
        assert pfdiag(capsys, "report", str(run_dir)) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_report_of_a_2000_host_run_is_built_without_holding_the_hosts_raw_outputs(
    tmp_path: Path, capsys: Any
) -> None:
    recorded = tmp_path / "recorded"  # today's line format, from a replay of the 5 recorded hosts
    assert pfdiag(capsys, "run", TRIAGE, "--replay", str(QUIET), "-o", str(recorded)) == 0
    _report_peak_bytes(capsys, clone(QUIET, tmp_path / "warm", 5))  # imports and caches, once
    for name, source in (("old", QUIET), ("new", recorded)):  # before commands were recorded, and now
        full = clone(source, tmp_path / f"{name}-full", 2000)
        bare = clone(source, tmp_path / f"{name}-bare", 2000, outputs=False)
        held = _report_peak_bytes(capsys, full) - _report_peak_bytes(capsys, bare)
        outputs = 400 * sum(len(h.result.raw or "") for h in load_recording(source).hosts)
        assert outputs > 2000 * 10_000  # each host's probe answer is ~17 KB
        # holding them all would add every one of them to the peak; reading a line at a time adds one
        assert held < outputs / 10, (
            f"{name}: {held / 2**20:.1f} MiB more with {outputs / 2**20:.1f} MiB of outputs"
        )


def test_a_secret_in_a_long_output_is_masked_before_the_output_is_packed() -> None:
    secret = "hunter2-s3cr3t"
    stdout = "".join(f"line {i} token={secret}\n" for i in range(500))  # long enough to be packed
    result = HostResult("h1", raw=stdout)
    commands = [RecordedCommand("pfdiag probe", 0, stdout), RecordedCommand("echo hi", 0, "hi\n")]
    line = host_line(result, commands, {"ansible_password": secret}, Redactor({secret}))
    entry = json.loads(line)
    assert "stdout_zlib" in entry["commands"][0] and entry["raw_command"] == 0 and "raw" not in entry
    back = read_host_line(line)
    assert secret not in back.commands[0].stdout and "token=********" in back.commands[0].stdout
    assert back.result.raw == back.commands[0].stdout and back.commands[1].stdout == "hi\n"
    assert secret not in line


def test_a_damaged_packed_output_is_a_bad_line_named_by_number_not_a_traceback(tmp_path: Path) -> None:
    recorded = clone(QUIET, tmp_path / "recorded", 0)
    entry = json.loads(host_line(HostResult("h1"), [RecordedCommand("pfdiag probe", 0, "x" * 5000)]))
    damaged = {**entry, "commands": [{**entry["commands"][0], "stdout_zlib": "eJzLSMzLBgAGAAH="}]}
    lines = [json.dumps({**entry, "host": "h0"}), json.dumps({**damaged, "host": "h1"}), json.dumps(entry)]
    (recorded / "hosts.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportError, match="bad line in run folder: stdout_zlib is") as caught:
        load_recording(recorded)
    assert caught.value.where == f"{recorded / 'hosts.jsonl'}:2"


# a host's brief and its rows in the fleet's frames: ~16.3 KB traced with the exports; 21.5 KB while a
# passed check kept its value and evidence and hosts.csv was one text, 25 KB before a passed check's
# message left the brief (the whole results, the recording read whole and the JSON built in memory
# were ~140 KB a host)
MAX_HELD_BYTES_PER_HOST = 20_000


def _replay_peak_bytes(capsys: Any, source: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        argv = ["run", TRIAGE, "--replay", str(source), "-o", str(out / "run")]
        assert pfdiag(capsys, *argv, "--json", str(out / "r.json"), "--csv", str(out / "csv")) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_replay_holds_a_bounded_brief_per_finished_host_exports_included(
    tmp_path: Path, capsys: Any
) -> None:
    """Before, every host's whole result was held until the end, the recording read whole before the
    first host ran and the JSON built in memory: ~140 KB traced a host done."""
    _replay_peak_bytes(capsys, clone(QUIET, tmp_path / "warm", 5), tmp_path / "warm-out")  # imports
    small, large = 120, 480  # over PRETTY_JSON_HOSTS: the JSON is written a host at a time
    peaks = {
        n: _replay_peak_bytes(capsys, clone(QUIET, tmp_path / f"rec{n}", n), tmp_path / f"out{n}")
        for n in (small, large)
    }
    per_host = (peaks[large] - peaks[small]) / (large - small)
    assert per_host < MAX_HELD_BYTES_PER_HOST, (
        f"{per_host:.0f} bytes held per extra host ({peaks[small] / 2**20:.1f} MiB at {small} hosts, "
        f"{peaks[large] / 2**20:.1f} MiB at {large})"
    )
    hosts_csv = (tmp_path / f"out{large}" / "csv" / "hosts.csv").read_text().splitlines()
    processes = (tmp_path / f"out{large}" / "csv" / "processes.csv").read_text().splitlines()
    document = json.loads((tmp_path / f"out{large}" / "r.json").read_text())
    assert len(hosts_csv) == large + 1 and len(document["hosts"]) == large
    assert len(processes) - 1 == sum(len(h["top_processes"]) for h in document["hosts"].values()) > large


def test_a_replay_refuses_a_damaged_recording_before_any_host_runs(tmp_path: Path, capsys: Any) -> None:
    """The replay reads each host's answers when the host starts, but checks them all first: a damaged
    one is the bad line it was when the recording was read whole, not one host failed mid-run."""
    recorded = clone(QUIET, tmp_path / "recorded", 3)
    lines = (recorded / "hosts.jsonl").read_text().splitlines()
    entry = json.loads(lines[1])
    entry["commands"], entry["raw_command"] = (
        [{"key": "pfdiag probe", "exit_code": 0, "stdout_zlib": "eJzLSM="}],
        0,
    )
    entry.pop("raw", None)
    lines[1] = json.dumps(entry)
    (recorded / "hosts.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["run", TRIAGE, "--replay", str(recorded), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{recorded / 'hosts.jsonl'}:2: bad line in run folder: stdout_zlib is" in err
    assert not out.exists()


def test_a_brief_holds_each_passed_check_once_across_hosts_and_what_the_history_carries() -> None:
    """A passed check held its host's value, message and evidence (~0.5 KB a check, eight a host);
    in brief it is its check's one object for the fleet, keeping only the evidence the next audit's
    ``previous`` reads (oom_kill_total, boot_id); a failed check keeps everything."""
    lines = (QUIET / "hosts.jsonl").read_text().splitlines()
    whole = [read_host_line(line).result for line in lines[:2]]
    briefs = [host.brief() for host in whole]
    assert any(f.status == "pass" and f.value is not None for f in whole[0].findings)
    for a, b in zip(briefs[0].findings, briefs[1].findings, strict=True):
        if a.status == "pass":
            assert a is b and a.value is None and a.message == "" and not a.evidence
    assert briefs[0].host_facts is briefs[1].host_facts
    carried = Finding("oom", "t", "pass", "info", "no OOM kill", 0, ">", 1.0,
                      {"oom_kill_total": 7, "boot_id": "b-1", "processes_over": []})  # fmt: skip
    failed = Finding(
        "swap", "t", "fail", "critical", "swapping", 30.5, ">=", 10.0, {"processes_over": ["db"]}
    )
    host = HostResult("h", findings=[carried, failed]).brief()
    assert host.findings[0].evidence == {"oom_kill_total": 7, "boot_id": "b-1"}
    assert host.findings[1] == failed
