"""A watch's events as records: every kind through the codec, and old events.jsonl files read back.

The lines below are the ones a watch writes (README "Events"); the records are made by the code that
makes them in a watch (the rules, the ticker's rows, the runner's host states), so a field renamed or
reordered on a record shows here as a changed line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diag.cli import main
from diag.findings import Severity
from diag.runs.events import (
    AlertEvent,
    BaselineEvent,
    HostStateEvent,
    OtherEvent,
    ResolvedEvent,
    SampleEvent,
    decode_event,
    encode_event,
    event_data,
)
from diag.watch.rules import AlertTracker, exits
from diag.watch.ticker import ProcCounters, ProcRate, TickRates

TS = "2026-12-01T19:40:01.123Z"
ROW = ProcRate(42, 9001, "java", 200.0, 2.0, 100.0, 1.0, False).row()
LINES = {
    "sample": '{"type": "sample", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", "interval_s": 1.0, '
    '"rates": {"pgfault_per_s": 120.0, "minflt_per_s": 119.0, "majflt_per_s": 1.0, "swapin_per_s": null}, '
    '"processes": [{"pid": 42, "starttime": 9001, "comm": "java", "minflt_per_s": 200.0, '
    '"majflt_per_s": 2.0, "children_minflt_per_s": 100.0, "children_majflt_per_s": 1.0, '
    '"total_minflt_per_s": 300.0, '
    '"total_majflt_per_s": 3.0, "new": false}], "bytes": 300, "vs_usual": "3.0x usual minor/s"}',
    "alert": '{"type": "alert", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", "pid": 42, "comm": "java", '
    '"rule": "proc_minflt_per_s", "value": 300.0, "threshold": 250.0, "for_ticks": 1, "severity": "warning"}',
    "host-wide alert": '{"type": "alert", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", "pid": null, '
    '"comm": null, "rule": "swapin_pages_per_s", "value": 80.0, "threshold": 10.0, "for_ticks": 1, '
    '"severity": "critical"}',
    "resolved": '{"type": "resolved", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", "pid": 42, '
    '"comm": "java", "rule": "proc_minflt_per_s", "value": 300.0, "threshold": 250.0, "for_ticks": 1, '
    '"reason": "exited"}',
    "exit": '{"type": "exit", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", "pid": 42, "comm": "java", '
    '"starttime": 9001}',
    "host-state lost": '{"type": "host-state", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", '
    '"state": "unreachable", "reason": "TCP connect to 127.0.0.11:22 failed"}',
    "host-state ok": '{"type": "host-state", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", "state": "ok", '
    '"reason": null, "reconnected": true, "where": "127.0.0.1:2222"}',
    "baseline": '{"type": "baseline", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", '
    '"summary": "usual minor/s median 3,100"}',
    "no history": '{"type": "baseline", "host": null, "ts": "2026-12-01T19:40:01.123Z", '
    '"summary": "no history: nothing at /x to compare the hosts with"}',
}


def _rule_events() -> dict[str, AlertEvent | ResolvedEvent]:
    """An alert and its resolution, made by the rules as a watch makes them."""
    tracker = AlertTracker({"proc_minflt_per_s": 250.0, "swapin_pages_per_s": 10.0})
    storm = TickRates(
        1.0,
        {"swapin_per_s": 80.0},
        (ProcRate(42, 9001, "java", 200.0, 0.0, 100.0, 0.0, False),),
        frozenset(),
        (),
    )
    host_wide, alert = tracker.evaluate("h01", 0.0, TS, storm)  # host-wide rules come first
    gone = (ProcCounters(42, 9001, "java", 0, 0, 0, 0),)
    quiet = TickRates(1.0, {"swapin_per_s": 80.0}, (), frozenset(), gone)
    (resolved,) = tracker.evaluate("h01", 1.0, TS, quiet)
    return {"alert": alert, "host-wide alert": host_wide, "resolved": resolved}


def _records() -> dict[str, object]:
    rules = _rule_events()
    (exited,) = exits("h01", TS, [ProcCounters(42, 9001, "java", 0, 0, 0, 0)], frozenset({42}))
    rates = {"pgfault_per_s": 120.0, "minflt_per_s": 119.0, "majflt_per_s": 1.0, "swapin_per_s": None}
    return {
        "sample": SampleEvent("h01", TS, 1.0, rates, (ROW,), 300, vs_usual="3.0x usual minor/s"),
        **rules,
        "exit": exited,
        "host-state lost": HostStateEvent("h01", TS, "unreachable", "TCP connect to 127.0.0.11:22 failed"),
        "host-state ok": HostStateEvent("h01", TS, "ok", None, reconnected=True, where="127.0.0.1:2222"),
        "baseline": BaselineEvent("h01", TS, "usual minor/s median 3,100"),
        "no history": BaselineEvent(None, TS, "no history: nothing at /x to compare the hosts with"),
    }


@pytest.mark.parametrize("kind", list(LINES))
def test_each_event_kind_is_written_as_the_watch_has_always_written_it_and_read_back_equal(kind: str) -> None:
    record = _records()[kind]
    assert encode_event(record) == LINES[kind] + "\n"  # type: ignore[arg-type]
    assert decode_event(json.loads(LINES[kind])) == record


def test_a_rule_event_carries_the_severity_of_its_rule() -> None:
    rules = _rule_events()
    assert (rules["alert"].severity, rules["host-wide alert"].severity) == (
        Severity.warning,
        Severity.critical,
    )


def test_keys_an_older_or_newer_pfdiag_wrote_are_kept_as_they_were_read() -> None:
    old_row = {"pid": 42, "comm": "java", "minflt_per_s": 55256.0, "majflt_per_s": 0.0, "cgroup": "/app"}
    old = {"type": "sample", "host": "h", "ts": TS, "interval_s": 1.0, "rates": {}, "processes": [old_row]}
    sample = decode_event(old)
    assert isinstance(sample, SampleEvent) and sample.processes[0].total_minor == 55256.0
    assert event_data(sample) == old and list(event_data(sample)["processes"][0]) == list(old_row)
    edited = {"type": "alert", "host": "h", "ts": TS, "pid": None, "comm": None, "rule": "host_minflt_per_s",
              "value": 5, "threshold": 1, "ticket": "OPS-1", "vs_usual": "2x"}  # fmt: skip
    assert encode_event(decode_event(edited)) == json.dumps(edited) + "\n"  # its order, its whole numbers
    newer = {"type": "oom-kill", "host": "h", "ts": TS, "victim": "java"}
    other = decode_event(newer)
    assert isinstance(other, OtherEvent) and event_data(other) == newer


def test_an_old_watch_folder_still_renders_and_its_json_is_its_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A watch saved before total_* (minflt_per_s was own + children), rules without for_ticks or
    severity, a key and an event type this version does not know."""
    run = tmp_path / "old-watch"
    run.mkdir()
    meta = {"kind": "watch", "version": "0.1", "started": "2026-12-01T19:43:24+0000", "hosts": ["h01"],
            "every_s": 1.0, "thresholds": {"proc_minflt_per_s": 1000.0}, "ended_by": "count"}  # fmt: skip
    lines = [
        {"type": "host-state", "host": "h01", "ts": TS, "state": "ok", "reason": None, "reconnected": False,
         "where": "local"},
        {"type": "sample", "host": "h01", "ts": TS, "interval_s": 1.0,
         "rates": {"pgfault_per_s": 9000.0, "minflt_per_s": 8990.0, "majflt_per_s": 3.0, "swapin_per_s": 0.0},
         "processes": [{"pid": 42, "starttime": 7, "comm": "make", "minflt_per_s": 8000.0,
                        "majflt_per_s": 0.0, "new": False}], "bytes": 310},
        {"type": "alert", "host": "h01", "ts": TS, "pid": 42, "comm": "make", "rule": "proc_minflt_per_s",
         "value": 8000.0, "threshold": 1000.0, "ticket": "OPS-1"},
        {"type": "oom-kill", "host": "h01", "ts": TS, "victim": "java"},
        {"type": "resolved", "host": "h01", "ts": TS, "pid": 42, "comm": "make", "rule": "proc_minflt_per_s",
         "value": 10.0, "threshold": 1000.0, "reason": "below threshold"},
    ]  # fmt: skip
    (run / "run.json").write_text(json.dumps(meta))
    (run / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["report", str(run)]) == 0
    timeline = capsys.readouterr().out
    assert "| h01 | 1 | 8,990 | 3.0 | make[42] 8,000 |" in timeline  # the old total is the busiest's rate
    assert "ALERT    h01 pid 42 (make) proc_minflt_per_s 8,000/s >= 1,000/s" in timeline
    assert "RESOLVED h01 pid 42 (make) proc_minflt_per_s (below threshold; last 10.0/s)" in timeline
    assert "**1 alert(s)**, 1 resolved, 0 connection problem(s)" in timeline
    assert main(["report", str(run), "--format", "json"]) == 0
    emitted = json.loads(capsys.readouterr().out)
    assert emitted["events"] == lines
    assert [list(e) for e in emitted["events"]] == [list(line) for line in lines]  # in the order written
