"""One ``perf stat -x,`` parser (diag/probe/perfstat.py) for the probe and the deep dive.

The lines below are real stderr of perf 6.1.187 on this machine's kernel 6.18 (as root, paranoid 2):
``perf stat -a -x, -e page-faults,minor-faults,major-faults -- sleep 0.2``, then unprivileged-style
``:u`` events with a tracepoint, then ``perf stat -x, -e page-faults,major-faults -p 1 -- sleep 0.1``
(pid 1 asleep: ``<not counted>``).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from diag.probe.perf_report import parse_perf_stat as deepdive_parse_perf_stat
from diag.probe.perfstat import PerfCounter, parse_perf_counters, parse_perf_stat
from diag.probe.sample import EXAMPLE, parse_probe

SYSTEM_WIDE = """15157,,page-faults,411803905,100.00,,
15157,,minor-faults,411797813,100.00,,
0,,major-faults,411795899,100.00,,"""
USER_ONLY = """45,,page-faults:u,525576,100.00,,
0,,major-faults:u,525576,100.00,,
<not supported>,,cycles:u,0,100.00,,
45,,exceptions:page_fault_user,525576,100.00,,"""
ASLEEP = """<not counted>,,page-faults,0,100.00,,
<not counted>,,major-faults,0,100.00,,"""


def test_a_user_only_counter_is_named_as_it_was_asked_for_and_a_tracepoint_keeps_its_name() -> None:
    counters = parse_perf_counters(USER_ONLY.splitlines())
    assert counters["page-faults"] == PerfCounter("page-faults", 45)
    assert counters["major-faults"] == PerfCounter("major-faults", 0)
    assert counters["exceptions:page_fault_user"].count == 45


def test_a_counter_perf_could_not_give_is_unknown_with_perfs_reason() -> None:
    counters = parse_perf_counters((USER_ONLY + "\n" + ASLEEP).splitlines())
    assert counters["cycles"] == PerfCounter("cycles", None, "not supported")
    assert counters["major-faults"] == PerfCounter("major-faults", None, "not counted")


def test_the_probe_and_the_deep_dive_read_the_same_lines_the_same_way() -> None:
    for text in (SYSTEM_WIDE, USER_ONLY, ASLEEP):
        expected = {event: c.count for event, c in parse_perf_counters(text.splitlines()).items()}
        assert parse_perf_stat(text) == deepdive_parse_perf_stat(text) == expected
    assert parse_perf_stat(ASLEEP) == {"page-faults": None, "major-faults": None}


def test_lines_a_future_perf_might_add_are_skipped() -> None:
    text = "# started on Thu Dec  3 13:20:00 2026\n\n" + SYSTEM_WIDE + "\n1.5,msec,task-clock,1500,100.00,,"
    assert parse_perf_stat(text) == {"page-faults": 15157, "minor-faults": 15157, "major-faults": 0}


def _with_perf(lines: str) -> str:
    return EXAMPLE.replace("@@pfdiag perf unused not installed", "@@pfdiag perf ok\n" + lines)


def test_a_probe_counter_perf_did_not_count_is_unknown_with_a_reason_not_zero() -> None:
    counted = parse_probe(_with_perf(SYSTEM_WIDE)).as_vars()
    assert counted["perf"]["major_faults"] == 0 and counted["perf"]["page_faults"] == 15157
    assert not any(key.startswith("perf") for key in counted["not_evaluable"])
    asleep = parse_probe(_with_perf(SYSTEM_WIDE.splitlines()[0] + "\n" + ASLEEP.splitlines()[1])).as_vars()
    assert asleep["perf"]["page_faults"] == 15157
    assert asleep["perf"]["major_faults"] is None and asleep["perf"]["major_faults_per_s"] is None
    assert asleep["not_evaluable"]["perf.major_faults"] == "perf stat printed <not counted> for major-faults"
    assert asleep["not_evaluable"]["perf.minor_faults"] == "perf stat printed no line for minor-faults"


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed")
def test_real_perf_stat_output_of_this_machine_parses() -> None:
    run = subprocess.run(
        ["perf", "stat", "-x,", "-e", "page-faults:u,major-faults,cycles:u", "--", "true"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        pytest.skip(f"perf stat is not usable here: {run.stderr.strip()[-200:]}")
    counters = parse_perf_counters(run.stderr.splitlines())
    assert set(counters) == {"page-faults", "major-faults", "cycles"}, run.stderr
    assert counters["page-faults"].count is not None and counters["page-faults"].count > 0
    assert all((c.count is None) == (c.unknown is not None) for c in counters.values())
