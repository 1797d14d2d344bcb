"""The workload fixtures make the faults they claim, counted straight from /proc (not through diag).

Each test reads /proc/<pid>/stat and /proc/vmstat one second apart. The thresholds are far below what
the workloads make on a 2-core machine (100k+ minor/s, thousands of majors/s), so these check that the
kind of fault is right, not how fast the machine is.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.processes import read_stat
from tests.fixtures.workloads import (
    QUIET_MAJFLT_PER_S,
    Workload,
    _active_swaps,
    _memory_cgroup,
    _memory_cgroup_parent,
    _remove_leftovers,
    _root_fs_dir,
    _swap_file,
)


@dataclass(frozen=True, slots=True)
class FaultRates:
    minflt_per_s: float
    majflt_per_s: float
    pswpin_delta: int


def read_stat_faults(pid: int) -> tuple[int, int]:
    """minflt and majflt of a live process from /proc/<pid>/stat."""
    stat = read_stat(pid)
    assert stat is not None, f"process {pid} is gone"
    return stat.minflt, stat.majflt


def read_comm(pid: int) -> str:
    stat = read_stat(pid)
    assert stat is not None, f"process {pid} is gone"
    return stat.comm


def read_pswpin() -> int:
    for line in Path("/proc/vmstat").read_text().splitlines():
        name, value = line.split()
        if name == "pswpin":
            return int(value)
    raise AssertionError("/proc/vmstat has no pswpin line")


def measure(pid: int, interval_s: float = 1.0) -> FaultRates:
    minflt0, majflt0 = read_stat_faults(pid)
    pswpin0, t0 = read_pswpin(), time.monotonic()
    time.sleep(interval_s)  # the measuring interval itself
    minflt1, majflt1 = read_stat_faults(pid)
    pswpin1, t1 = read_pswpin(), time.monotonic()
    return FaultRates((minflt1 - minflt0) / (t1 - t0), (majflt1 - majflt0) / (t1 - t0), pswpin1 - pswpin0)


@pytest.mark.workload
def test_minor_storm_makes_minor_faults_and_no_majors(minor_storm: Workload) -> None:
    rates = measure(minor_storm.pid)
    assert rates.minflt_per_s >= 1_000, rates
    assert rates.majflt_per_s < 10, rates
    assert read_comm(minor_storm.pid) == minor_storm.comm == "pf (storm) x"
    assert minor_storm.kind == "minor-storm"


@pytest.mark.workload
def test_file_majors_makes_major_faults_without_swapping_in(file_majors: Workload) -> None:
    rates = measure(file_majors.pid)
    assert rates.majflt_per_s >= 10, rates
    assert rates.pswpin_delta <= 10, rates  # no swap is in use; tolerate another process's stray swap-in
    assert read_comm(file_majors.pid) == file_majors.comm == "pf) file (major"
    assert file_majors.kind == "major-file"


@pytest.mark.workload
def test_swap_majors_makes_major_faults_by_swapping_in(swap_majors: Workload) -> None:
    rates = measure(swap_majors.pid)
    assert rates.majflt_per_s >= 10, rates
    assert rates.pswpin_delta > 0, rates
    assert read_comm(swap_majors.pid) == swap_majors.comm == "pf (swap) x) y"
    assert swap_majors.kind == "major-swap"


@pytest.mark.workload
def test_quiet_machine_returns_once_host_majors_are_below_the_threshold(quiet_machine: float) -> None:
    assert 0 <= quiet_machine < QUIET_MAJFLT_PER_S


@pytest.mark.workload
def test_swap_file_and_cgroup_are_removed_even_when_the_test_body_fails() -> None:
    swap_dir, (parent, version) = _root_fs_dir(), _memory_cgroup_parent()
    with pytest.raises(RuntimeError), _swap_file(swap_dir) as swap, _memory_cgroup(parent, version) as cgroup:
        assert str(swap) in _active_swaps()
        assert (cgroup / "cgroup.procs").exists()
        raise RuntimeError("the test body failed")
    assert str(swap) not in _active_swaps()
    assert not swap.exists()
    assert not cgroup.exists()


@pytest.mark.workload
def test_leftovers_of_a_crashed_run_are_removed_and_a_live_runs_kept() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # reaped: its pid stands for a pytest that crashed before teardown
    # Own prefixes, so a concurrent pytest (whose sweep would see a dead owner too) leaves these alone.
    swap_prefix, cgroup_prefix = f"pfdiag-selftest-{os.getpid()}-swap-", f"pfdiag-selftest-{os.getpid()}-cg-"
    swap_dir, (parent, _) = _root_fs_dir(), _memory_cgroup_parent()
    crashed_swap = swap_dir / f"{swap_prefix}{dead.pid}-crashed.swap"
    crashed_cgroup = parent / f"{cgroup_prefix}{dead.pid}-crashed"
    live_cgroup = parent / f"{cgroup_prefix}{os.getpid()}-live"
    try:
        crashed_swap.write_bytes(bytes(16 * 1024 * 1024))
        crashed_swap.chmod(0o600)
        subprocess.run(["mkswap", str(crashed_swap)], check=True, capture_output=True)
        subprocess.run(["swapon", str(crashed_swap)], check=True, capture_output=True)
        crashed_cgroup.mkdir()
        live_cgroup.mkdir()
        _remove_leftovers(swap_dir, parent, swap_prefix, cgroup_prefix)
        assert str(crashed_swap) not in _active_swaps()
        assert not crashed_swap.exists()
        assert not crashed_cgroup.exists()
        assert live_cgroup.exists()
    finally:
        _remove_leftovers(swap_dir, parent, swap_prefix, cgroup_prefix)
        live_cgroup.rmdir()
