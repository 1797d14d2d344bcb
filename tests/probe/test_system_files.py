"""vmstat, meminfo, pressure, swaps and diskstats parsers over recorded captures."""

from __future__ import annotations

import pytest

from diag.probe.diskstats import parse_diskstats, whole_disks
from diag.probe.meminfo import parse_meminfo
from diag.probe.pressure import parse_pressure
from diag.probe.swaps import parse_swaps
from diag.probe.vmstat import parse_vmstat, vmstat_counter
from diag.shared.errors import ParseError
from tests.probe.conftest import capture, capture_lines


def test_vmstat_old_kernel_sums_exact_per_zone_names_only() -> None:
    vm = parse_vmstat(capture_lines("prometheus__node_exporter__proc-vmstat.txt"))
    assert "pgscan_direct" not in vm
    zones = [vm[k] for k in vm if k.startswith("pgscan_direct_") and k != "pgscan_direct_throttle"]
    assert vmstat_counter(vm, "pgscan_direct") == sum(zones)
    assert "workingset_refault_file" not in vm and vm["workingset_refault"] == 157066


def test_vmstat_mid_kernel_uses_node_level_pgscan_direct() -> None:
    vm = parse_vmstat(capture_lines("jds2001__coreos-sosreport-master1__proc-vmstat.txt"))
    assert vmstat_counter(vm, "pgscan_direct") == vm["pgscan_direct"]


def test_vmstat_new_kernel_has_split_refaults() -> None:
    vm = parse_vmstat(
        capture_lines("linux-mailinglist-archives__linux-xfs.vger.kernel.org.0__bug216007-c13-vmstat.txt")
    )
    assert vm["workingset_refault_file"] == 1345 and "workingset_refault" not in vm
    assert vm["pgscan_kswapd"] + vm["pgscan_direct"] == vm["pgscan_anon"] + vm["pgscan_file"]
    six = parse_vmstat(capture_lines("CRYP70N1CZ__syslogs__vmstat.txt"))
    assert "numa_hint_faults" not in six and "workingset_refault_anon" in six


def test_vmstat_error_quotes_the_bad_line() -> None:
    with pytest.raises(ParseError, match="pgfault lots"):
        parse_vmstat(["pgfault 1", "pgfault lots"])


def test_vmstat_and_meminfo_refuse_bad_lines_amid_good_ones_and_skip_blank_ones() -> None:
    good = capture_lines("jds2001__coreos-sosreport-master1__proc-vmstat.txt")
    assert parse_vmstat([*good[:5], "", "  ", *good[5:]]) == parse_vmstat(good)
    with pytest.raises(ParseError, match=r"line 4: value is negative: 'pgfault -3'"):
        parse_vmstat([*good[:3], "pgfault -3", *good[3:]])
    with pytest.raises(ParseError, match=r"line 2: expected 'name value': 'a 1 2'"):
        parse_vmstat([good[0], "a 1 2"])
    mi = capture_lines("jds2001__coreos-sosreport-master1__proc-meminfo.txt")
    assert parse_meminfo([*mi, "", "Odd:  7 pages"])["Odd"] == 7
    assert parse_meminfo(["A:1 kB", "B:\t2\tkB", " C : 3"]) == {"A": 1, "B": 2, "C": 3}
    with pytest.raises(ParseError, match=r"line 2: expected 'Name: value \[kB\]': 'MemFree: 1 2 kB'"):
        parse_meminfo([mi[0], "MemFree: 1 2 kB"])
    with pytest.raises(ParseError, match=r"line 1: value is not an integer: 'X: 1kB'"):
        parse_meminfo(["X: 1kB"])


def test_meminfo_without_memavailable_on_3_13() -> None:
    mi = parse_meminfo(capture_lines("csm-csci442__proc-snapshot__meminfo.txt"))
    assert "MemAvailable" not in mi and mi["MemTotal"] > 0
    assert "MemAvailable" in parse_meminfo(
        capture_lines("jds2001__coreos-sosreport-master1__proc-meminfo.txt")
    )


def test_pressure_full_only_without_trailing_newline() -> None:
    text = capture("prometheus__node_exporter__proc-pressure-irq.txt")
    assert not text.endswith("\n")
    p = parse_pressure(text.splitlines())
    assert list(p) == ["full"] and p["full"].total_us == 8494


def test_pressure_heavy_memory_capture() -> None:
    p = parse_pressure(capture_lines("performancecopilot__pcp__pressure-root-001-proc-pressure-memory.txt"))
    assert p["some"].avg10 == 70.24 and p["full"].avg10 == 57.59


def test_swaps_header_only_means_no_swap() -> None:
    assert parse_swaps(capture_lines("jds2001__coreos-sosreport-master1__proc-swaps.txt")) == []


def test_swaps_zram_with_double_tabs_and_negative_priority() -> None:
    (zram,) = parse_swaps(capture_lines("prometheus__node_exporter__proc-swaps.txt"))
    assert zram.device == "/dev/zram0" and zram.type == "partition"
    (dm,) = parse_swaps(capture_lines("prometheus__procfs__proc-swaps.txt"))
    assert dm.device == "/dev/dm-2" and dm.priority == -2


def test_diskstats_reads_14_18_and_20_field_rows() -> None:
    lines = capture_lines("prometheus__procfs__proc-diskstats.txt")
    rows = parse_diskstats(lines)
    assert {len(line.split()) for line in lines} == {14, 18, 20}
    assert len(rows) == len(lines)
    assert rows["sda"].sectors_read == 1003346126  # 512-byte sectors


def test_diskstats_counts_whole_disks_only_by_heuristic() -> None:
    rows = parse_diskstats(capture_lines("prometheus__procfs__proc-diskstats.txt"))
    disks = whole_disks(rows, None)
    assert "sda" in disks and "sda1" not in disks and "dm-0" not in disks and "loop0" not in disks
    assert not any(name.startswith("ram") for name in disks)
