"""The watch's rules on hand-made ticks: --for K, cooldown per host + rule + process, resolved once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from diag.watch.rules import AlertTracker, Selection
from diag.watch.ticker import ProcCounters, ProcessTable, ProcRate, Tick, TickRates, parse_tick

LIMITS = {"proc_minflt_per_s": 1000.0, "proc_majflt_per_s": 10.0, "host_minflt_per_s": 50000.0}


def rates(
    minflt_per_s: float, pid: int = 42, comm: str = "java", exited: tuple[ProcCounters, ...] = ()
) -> TickRates:
    procs = (ProcRate(pid, 7, comm, minflt_per_s, 0.0, 0.0, 0.0, False),) if minflt_per_s else ()
    host = {
        "minflt_per_s": minflt_per_s,
        "majflt_per_s": 0.0,
        "swapin_per_s": 0.0,
        "pgfault_per_s": minflt_per_s,
    }
    return TickRates(1.0, host, procs, frozenset({pid}), exited)


def run(tracker: AlertTracker, values: list[float], step_s: float = 1.0) -> list[list[str]]:
    out = []
    for i, value in enumerate(values):
        events = tracker.evaluate("h01", i * step_s, f"t{i}", rates(value))
        out.append([f"{e['type']}:{e['rule']}" for e in events])
    return out


def test_an_alert_fires_at_once_by_default_and_resolves_once() -> None:
    tracker = AlertTracker({"proc_minflt_per_s": 1000.0})
    assert run(tracker, [5000, 6000, 0, 0]) == [
        ["alert:proc_minflt_per_s"],
        [],
        ["resolved:proc_minflt_per_s"],
        [],
    ]


def test_for_k_needs_k_consecutive_ticks_and_a_gap_restarts_the_count() -> None:
    tracker = AlertTracker({"proc_minflt_per_s": 1000.0}, for_ticks=3)
    assert run(tracker, [5000, 5000, 0, 5000, 5000, 5000]) == [
        [],
        [],
        [],
        [],
        [],
        ["alert:proc_minflt_per_s"],
    ]


def test_the_same_process_does_not_alert_again_within_the_cooldown_but_does_after_it() -> None:
    tracker = AlertTracker({"proc_minflt_per_s": 1000.0}, cooldown_s=10.0)
    events = run(tracker, [5000, 0, 5000, 0, 0, 0, 0, 0, 0, 0, 0, 5000])
    assert [i for i, e in enumerate(events) if "alert:proc_minflt_per_s" in e] == [0, 11]
    assert [i for i, e in enumerate(events) if "resolved:proc_minflt_per_s" in e] == [
        1
    ]  # nothing to resolve at 3


def test_a_storm_that_outlasts_the_cooldown_is_not_repeated_while_it_holds() -> None:
    tracker = AlertTracker({"proc_minflt_per_s": 1000.0}, cooldown_s=2.0)
    events = run(tracker, [5000] * 6)
    assert sum("alert:proc_minflt_per_s" in e for e in events) == 1


def test_host_rules_apply_only_when_no_pid_or_match_narrows_the_watch() -> None:
    everything = AlertTracker(LIMITS)
    assert [e["rule"] for e in everything.evaluate("h01", 0, "t", rates(60000))] == [
        "host_minflt_per_s",
        "proc_minflt_per_s",
    ]
    narrowed = AlertTracker(LIMITS, selection=Selection(matches=(re.compile("^nginx"),)))
    assert narrowed.evaluate("h01", 0, "t", rates(60000)) == []
    assert [e["pid"] for e in narrowed.evaluate("h01", 1, "t", rates(60000, comm="nginx: worker"))] == [42]


def test_an_exited_process_resolves_with_the_reason() -> None:
    tracker = AlertTracker({"proc_minflt_per_s": 1000.0})
    tracker.evaluate("h01", 0, "t0", rates(5000))
    gone = (ProcCounters(42, 7, "java", 1, 0, 0, 0),)
    (event,) = tracker.evaluate("h01", 1, "t1", rates(0, exited=gone))
    assert (event["type"], event["reason"], event["pid"]) == ("resolved", "exited", 42)


def test_rates_count_children_and_a_reused_pid_is_a_new_process() -> None:
    table = ProcessTable()
    assert table.apply(parse_tick("P 10 100 50 0 0 0 app\nT 1 10.00 1000 10 0 - 2\nE 1\n")) is None
    tick = table.apply(parse_tick("P 10 100 250 100 2 0 app\nT 2 11.00 2000 12 0 - 2\nE 2\n"))
    assert tick is not None
    (proc,) = tick.processes
    totals = (proc.total_minflt_per_s, proc.children_minflt_per_s, proc.total_majflt_per_s)
    assert totals == (300.0, 100.0, 2.0)
    assert (proc.minflt_per_s, proc.majflt_per_s) == (200.0, 2.0)  # own only, as the probe's Process
    assert tick.rates["minflt_per_s"] == 998.0 and tick.rates["swapin_per_s"] == 0.0
    reused = table.apply(parse_tick("X 10 100\nP 10 900 40 0 0 0 other\nT 3 12.00 2100 12 0 - 2\nE 3\n"))
    assert reused is not None
    assert [(p.comm, p.minflt_per_s, p.new) for p in reused.processes] == [("other", 40.0, True)]
    assert [p.comm for p in reused.exited] == ["app"]


def test_a_reaped_child_and_grandchild_count_only_what_they_made_since_the_last_tick() -> None:
    # an SSH logout: session 30 (90,000 faults by the last tick) and monitor 20 exit; listener 10 reaps
    # the monitor and its cminflt grows by 20's 510 + 30's 90,100
    first = "P 10 100 50 0 0 0 sshd\nP 20 200 500 0 0 0 sshd\nP 30 300 90000 0 3 0 sshd\n"
    first += "T 1 10.00 1000 10 0 - 3\nE 1\n"
    logout = "X 20 200 10\nX 30 300 20\nP 10 100 50 90610 0 3 sshd\nT 2 11.00 2000 10 0 - 1\nE 2\n"
    table = ProcessTable()
    table.apply(parse_tick(first))
    tick = table.apply(parse_tick(logout))
    assert tick is not None
    (proc,) = tick.processes
    assert (proc.children_minflt_per_s, proc.children_majflt_per_s) == (110.0, 0.0)
    # a parent the host did not send (ppid 0): never more than the host made in the tick
    table = ProcessTable()
    table.apply(parse_tick(first))
    tick = table.apply(parse_tick(logout.replace("X 20 200 10", "X 20 200")))
    assert tick is not None and tick.processes[0].children_minflt_per_s == 1000.0


def test_a_tick_without_changes_reports_zero_rates_and_no_processes() -> None:
    table = ProcessTable()
    table.apply(Tick(1, 5.0, 10, 1, 0, None, 3, (ProcCounters(1, 1, "init", 5, 0, 0, 0),)))
    tick = table.apply(Tick(2, 6.0, 10, 1, 0, None, 3))
    assert tick is not None and tick.processes == () and tick.rates["majflt_per_s"] == 0.0


def test_bad_watch_options_exit_5_before_anything_runs(tmp_path: Path, capsys: Any) -> None:
    from diag.cli import main

    for argv in (
        ["watch", "--every", "0"],
        ["watch", "--every", "1", "--count", "3", "--duration", "5m"],
        ["watch", "--every", "1", "--cooldown", "soon"],
        ["watch", "--every", "1", "--match", "("],
        ["watch", "--every", "1", "-e", "proc_minflt_per_s=lots"],
    ):
        assert main([*argv, "-o", str(tmp_path / "run")]) == 5, argv
        assert "ERROR:" in capsys.readouterr().err


def test_the_minor_rule_needs_the_cost_line_too_and_zero_restores_the_guides_line() -> None:
    """1 us a fault (the ticker reads no CPU time): 5,000/s is 5 ms/s, 100,000/s is 100 ms/s."""
    gated = AlertTracker({"proc_minflt_per_s": 1000.0, "proc_minor_ms_per_s": 50.0})
    assert run(gated, [5000, 100_000]) == [[], ["alert:proc_minflt_per_s"]]
    guide = AlertTracker({"proc_minflt_per_s": 1000.0, "proc_minor_ms_per_s": 0.0})
    assert run(guide, [5000]) == [["alert:proc_minflt_per_s"]]


def test_cooldown_takes_the_same_durations_as_renotify_after(tmp_path: Path, monkeypatch: Any) -> None:
    """``--cooldown 5min`` was refused (the watch had a second, narrower duration parser)."""
    import json

    from diag.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["watch", "--every", "0.2", "--count", "1", "--cooldown", "5min", "-o", "run"]) == 0
    assert json.loads((tmp_path / "run" / "run.json").read_text())["cooldown_s"] == 300.0
    assert main(["watch", "--every", "0.5", "--duration", "1sec", "-o", "run2"]) == 0
    assert json.loads((tmp_path / "run2" / "run.json").read_text())["duration_s"] == 1.0


def test_a_watched_process_has_the_probes_rate_names_with_the_probes_meanings() -> None:
    """minflt_per_s is a process's own faults in a run's processes[] and in a watch's sample alike;
    own + children is total_minflt_per_s in both (the watch used minflt_per_s for the total)."""
    import dataclasses

    from diag.probe.measurements import Process
    from diag.watch.ticker import ProcRate

    probe = {f.name for f in dataclasses.fields(Process)}
    watched = ProcRate(7, 1, "sh", 200.0, 2.0, 100.0, 1.0, False).to_dict()
    rate_keys = {k for k in watched if k.endswith("_per_s")}
    assert rate_keys == {
        "minflt_per_s", "majflt_per_s", "children_minflt_per_s", "children_majflt_per_s",
        "total_minflt_per_s", "total_majflt_per_s",
    } and rate_keys <= probe  # fmt: skip
    assert (watched["minflt_per_s"], watched["total_minflt_per_s"], watched["total_majflt_per_s"]) == (
        200.0,
        300.0,
        3.0,
    )
    alert = AlertTracker({"proc_minflt_per_s": 250.0}).evaluate(
        "h",
        0,
        "t",
        TickRates(1.0, {}, (ProcRate(7, 1, "sh", 200.0, 0.0, 100.0, 0.0, False),), frozenset(), ()),
    )
    assert [(e["type"], e["value"]) for e in alert] == [("alert", 300.0)]  # the rule reads the total
