"""The scale bench's simulated hosts sleep the interval the probe command asks for (bench/simhosts.py).
The probe script's own text holds "@@pfdiag probe VERSION" before the command's arguments, and from
2026-12-01 to 12-05 the simulated hosts slept the probe's version (2 s, then 3 s) for a 1 s interval."""

from __future__ import annotations

import pytest

from bench.simhosts import probe_interval
from diag.probe import probe_command


@pytest.mark.parametrize("interval_s", [1, 2.5, 7])
def test_a_simulated_host_sleeps_the_probe_commands_interval(interval_s: float) -> None:
    assert probe_interval(probe_command(interval_s=interval_s, top_n=5, perf=False)) == interval_s


def test_a_command_other_than_the_probe_is_answered_at_once() -> None:
    assert probe_interval("cat /proc/version") is None
