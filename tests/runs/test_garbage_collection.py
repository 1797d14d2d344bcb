"""A run walks the young generation less often and restores the collector after it, however it ends."""

from __future__ import annotations

import gc
import threading

import pytest

from diag.run.garbage_collection import YOUNG_THRESHOLD, collect_less


def test_within_a_run_the_objects_alive_are_frozen_and_the_young_generation_walked_less():
    before = gc.get_threshold()
    with collect_less():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (max(YOUNG_THRESHOLD, before[0]), *before[1:])
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles made during the run are still collected
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_exception_in_the_run_restores_the_collector():
    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt), collect_less():
        raise KeyboardInterrupt
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_overlapping_runs_restore_only_when_the_last_one_leaves():
    before = gc.get_threshold()
    inside = threading.Event()
    leave = threading.Event()

    def other_run() -> None:
        with collect_less():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other_run)
    with collect_less():
        thread.start()
        assert inside.wait(10)
    assert gc.get_threshold() != before  # the other run is still going
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
