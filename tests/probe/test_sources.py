"""The source modules added through the declarations: buddyinfo, NUMA nodes, compaction and NUMA counters,
Unevictable/Mlocked, VmPin, the new facts, children faults in the reducer; recorded captures for the
edge cases, this machine's live /proc for the invariants."""

from __future__ import annotations

import mmap
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from diag.probe import parse_probe, probe_command
from diag.probe.buddyinfo import buddyinfo_values, parse_buddyinfo
from diag.probe.facts import parse_facts_lines
from diag.probe.meminfo import memory_values, parse_meminfo
from diag.probe.numa import numa_values, parse_node_list
from diag.probe.pidstat import parse_children_row, parse_locked_row, parse_stat, parse_status_kib
from diag.probe.sample import EXAMPLE
from diag.probe.script import SCRIPT_PATH
from diag.probe.sources import BY_PATH, SOURCES
from diag.probe.vmstat import parse_vmstat, vmstat_rates
from diag.shared.errors import ParseError
from diag.transport.local import LocalTransport
from tests.fixtures.workloads import inline_python
from tests.probe.conftest import capture_lines

BOOT_ID = Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_every_source_declares_a_unique_absolute_path_and_a_read_count() -> None:
    assert len(BY_PATH) == len(SOURCES)
    assert {s.read for s in SOURCES} == {"twice", "once"}
    assert all(s.path.startswith(("/proc/", "/sys/")) for s in SOURCES)
    assert {s.name for s in SOURCES} >= {"vmstat", "meminfo", "diskstats", "swaps", "buddyinfo", "numa"}


def test_buddyinfo_of_a_one_node_x86_host_sums_zones_per_order() -> None:
    zones = parse_buddyinfo(capture_lines("pfdiag-dev-vm__proc-buddyinfo.txt"))
    assert [z.zone for z in zones] == ["DMA", "DMA32", "Normal"] and {z.node for z in zones} == {0}
    assert all(len(z.free) == 11 for z in zones)
    b = buddyinfo_values(zones, page_kib=4)
    assert b.free_pages_by_order == tuple(sum(z.free[o] for z in zones) for o in range(11))
    assert b.high_order_free_kib == sum(n * 2**o * 4 for o, n in enumerate(b.free_pages_by_order) if o >= 4)


def test_buddyinfo_of_a_four_node_arm64_host_keeps_14_orders_and_every_node() -> None:
    zones = parse_buddyinfo(capture_lines("d05-arm64-4node__proc-buddyinfo.txt"))
    assert [(z.node, z.zone) for z in zones] == [
        (0, "DMA"),
        (0, "Normal"),
        (1, "Normal"),
        (2, "Normal"),
        (3, "Normal"),
    ]
    b = buddyinfo_values(zones, page_kib=64)
    assert len(b.free_pages_by_order) == 14 and b.free_pages_by_order[13] == 250 + 252 + 253 + 237
    assert b.high_order_free_kib >= 992 * 2**13 * 64


@pytest.mark.parametrize(
    "line", ["Node 0, zone", "Node x, zone Normal 1 2", "Node 0 zone Normal 1", "Node 0, zone Normal 1 -2"]
)
def test_malformed_buddyinfo_line_is_a_parse_error_quoting_it(line: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_buddyinfo([line])
    assert repr(line) in info.value.render()


def test_node_range_lists_count_nodes_and_no_node_folder_means_one() -> None:
    assert [parse_node_list([t]) for t in ("0", "0-3", "0-1,3", "0,2-5\n")] == [1, 4, 3, 5]
    assert numa_values(None).nodes == 1
    with pytest.raises(ParseError, match="'3-1'"):
        parse_node_list(["3-1"])


def test_compaction_and_numa_rates_come_from_vmstat_or_say_why_not() -> None:
    lines = capture_lines("jds2001__coreos-sosreport-master1__proc-vmstat.txt")
    a = parse_vmstat(lines)
    b = {**a, "compact_stall": a["compact_stall"] + 20, "numa_miss": a["numa_miss"] + 10}
    ne: dict[str, str] = {}
    rates = vmstat_rates(a, b, 2.0, ne)
    assert rates["compact_stall_per_s"] == 10.0 and rates["numa_miss_per_s"] == 5.0
    assert rates["compact_fail_per_s"] == 0.0 and rates["numa_pages_migrated_per_s"] == 0.0
    bare = parse_vmstat(
        capture_lines("linux-mailinglist-archives__linux-xfs.vger.kernel.org.0__bug216007-c13-vmstat.txt")
    )
    ne = {}
    rates = vmstat_rates(bare, bare, 2.0, ne)
    assert rates["compact_stall_per_s"] is None and "CONFIG_COMPACTION" in ne["compact_stall_per_s"]
    assert rates["numa_foreign_per_s"] is None and "CONFIG_NUMA" in ne["numa_foreign_per_s"]


def test_a_counter_that_went_down_is_a_parse_error_quoting_both_readings() -> None:
    # issue 7: damaged output (a decreasing event counter) fails the host with the parser's reason,
    # never a silent 0 rate
    with pytest.raises(ParseError, match="'pgfault 500' then 'pgfault 100'"):
        vmstat_rates({"pgfault": 500, "pgmajfault": 9}, {"pgfault": 100, "pgmajfault": 3}, 1.0, {})


def test_unevictable_and_mlocked_are_kib_and_percent_of_memtotal() -> None:
    mi = parse_meminfo(capture_lines("jds2001__coreos-sosreport-master1__proc-meminfo.txt"))
    m = memory_values(mi, {})
    assert m.unevictable_kib == mi["Unevictable"] and m.mlocked_kib == mi["Mlocked"]
    assert m.unevictable_pct == round(100 * mi["Unevictable"] / mi["MemTotal"], 2)
    ne: dict[str, str] = {}
    old = memory_values({"MemTotal": 1000}, ne)
    assert (
        old.unevictable_kib is None and old.unevictable_pct is None and "Unevictable" in ne["unevictable_kib"]
    )


def test_status_keeps_vmpin_beside_vmlck() -> None:
    status = parse_status_kib(capture_lines("prometheus__procfs__proc-26231-status.txt"))
    assert status["VmPin"] == 0 and status["VmLck"] == 0


def test_new_facts_are_ints_and_an_unreadable_one_is_none_with_its_reason() -> None:
    facts, missing = parse_facts_lines([
        "boot_id=7255c40e-551c-4743-8bfc-3652cb9742b3", "zone_reclaim_mode=0", "min_free_kbytes=67584",
        "watermark_scale_factor=10", "overcommit_memory=2",
        "!compaction_proactiveness=unreadable /proc/sys/vm/compaction_proactiveness",
    ])  # fmt: skip
    assert facts.boot_id == "7255c40e-551c-4743-8bfc-3652cb9742b3"
    assert (facts.zone_reclaim_mode, facts.min_free_kbytes, facts.watermark_scale_factor) == (0, 67584, 10)
    assert facts.overcommit_memory == 2 and facts.compaction_proactiveness is None
    assert "compaction_proactiveness" in missing


def test_stat_parser_reads_children_faults_from_fields_11_and_13() -> None:
    st = parse_stat("812 (batch (runner)) S 1 812 812 0 -1 0 2300 420000 0 7 0 0 0 0 20 0 1 0 500 0 0")
    assert (st.minflt, st.cminflt, st.majflt, st.cmajflt) == (2300, 420000, 0, 7)


def test_children_and_locked_rows_parse_and_quote_a_bad_line() -> None:
    assert parse_children_row("children 812 -5 3") == (812, 0, 3)
    row = parse_locked_row("locked 7 - 128 65536 a b")
    assert (row.pid, row.comm, row.lck_kib, row.pin_kib, row.memlock_limit_kib) == (7, "a b", None, 128, 64)
    with pytest.raises(ParseError, match="children x"):
        parse_children_row("children x")
    with pytest.raises(ParseError, match="locked 7"):
        parse_locked_row("locked 7")


def stat(pid: int, comm: str, minflt: int, cminflt: int, start: int, ppid: int = 1) -> str:
    return f"{pid} ({comm}) S {ppid} 1 1 0 -1 0 {minflt} {cminflt} 0 0 0 0 0 0 20 0 1 0 {start} 0 0"


def reduce_canned(shell: list[str], first: list[str], second: list[str], top: int = 5) -> list[str]:
    """The reducer's output lines for two canned snapshots (stat records) 2 s apart."""
    canned = "\n".join([
        "@@pfdiag snap 0 100.00", "@@pfdiag stat", *first, "@@pfdiag stat-end", "@@pfdiag pad x",
        "@@pfdiag snap 1 102.00", "@@pfdiag stat", *second, "@@pfdiag stat-end",
    ])  # fmt: skip
    return subprocess.run(
        [*shell, str(SCRIPT_PATH), "reduce", "1", str(top), "0", ""], input=canned, capture_output=True,
        text=True, check=True, timeout=30,
    ).stdout.splitlines()  # fmt: skip


@pytest.mark.parametrize("shell", [["/bin/sh"], ["busybox", "ash"]], ids=lambda s: s[0])
def test_reducer_ranks_a_parent_by_the_faults_of_the_children_it_reaped(shell: list[str]) -> None:
    first = [
        stat(10, "batch (runner)", 100, 1000, 500), stat(11, "busy", 100, 0, 500),
        stat(12, "idle", 5, 0, 500),
    ]  # fmt: skip
    second = [
        stat(10, "batch (runner)", 110, 401000, 500), stat(11, "busy", 5100, 0, 500),
        stat(12, "idle", 5, 0, 500),
    ]  # fmt: skip
    lines = reduce_canned(shell, first, second, top=1)
    assert [x.split()[1] for x in lines if x.startswith("proc ")] == ["10"]  # 10 + 400,000 beats 5,000
    assert "children 10 400000 0" in lines
    totals = dict(kv.split("=") for kv in next(x for x in lines if x.startswith("totals ")).split()[1:])
    assert (totals["minflt"], totals["faulting"]) == ("5010", "2")  # own faults only, as before


@pytest.fixture
def locker() -> Iterator[int]:
    """A child holding 2 MiB of mlock()ed memory."""
    code = (
        "import ctypes, mmap, sys, time\n"
        "m = mmap.mmap(-1, 2 << 20)\n"
        "buf = (ctypes.c_char * (2 << 20)).from_buffer(m)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]\n"
        "assert libc.mlock(ctypes.addressof(buf), 2 << 20) == 0, ctypes.get_errno()\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    with inline_python(code) as pid:
        yield pid


def test_live_probe_buddyinfo_numa_and_facts_hold_their_invariants(locker: int) -> None:
    result = LocalTransport().run(
        probe_command(interval_s=0.5, top_n=5, perf=False, locked_min_kib=1024), timeout_s=30
    )
    s = parse_probe(result.stdout)
    assert s.buddyinfo is not None and s.buddyinfo.zones
    orders = len(s.buddyinfo.free_pages_by_order)
    assert all(len(z.free) <= orders for z in s.buddyinfo.zones)
    free_kib = sum(n * 2**o for o, n in enumerate(s.buddyinfo.free_pages_by_order)) * (mmap.PAGESIZE // 1024)
    assert 0 <= s.buddyinfo.high_order_free_kib <= free_kib <= (s.memory.mem_total_kib or 0)
    nodes = len([p for p in Path("/sys/devices/system/node").glob("node[0-9]*")]) or 1
    assert s.numa.nodes == nodes
    assert s.facts.boot_id == BOOT_ID and s.facts.min_free_kbytes and s.facts.overcommit_memory in (0, 1, 2)
    for key in ("compact_stall_per_s", "numa_miss_per_s"):
        value = getattr(s.rates, key)
        assert (value is not None and value >= 0) or key in s.not_evaluable
    assert s.memory.unevictable_kib is not None and s.memory.mlocked_kib is not None
    assert s.memory.mlocked_kib <= s.memory.unevictable_kib  # mlocked pages are on the unevictable list
    locked = {p.pid: p for p in s.locked_processes}
    assert locker in locked and (locked[locker].lck_kib or 0) >= 2048
    assert all(max(p.lck_kib or 0, p.pin_kib or 0) >= 1024 for p in s.locked_processes)
    for p in s.processes:
        assert p.children_minflt_delta >= 0
        assert p.rss_kib is None or p.pin_kib is not None  # status read (the process may have exited since)
        assert p.total_minflt_per_s == pytest.approx(
            (p.minflt_per_s or 0) + (p.children_minflt_per_s or 0), abs=0.02
        )
    assert s.process_totals.attributed_pct is None or 0 <= s.process_totals.attributed_pct <= 100


def test_locked_processes_are_empty_unless_asked_for() -> None:
    result = LocalTransport().run(probe_command(interval_s=0.2, top_n=3, perf=False), timeout_s=30)
    assert parse_probe(result.stdout).locked_processes == ()


@pytest.fixture
def faulter() -> Iterator[int]:
    code = (
        "import mmap\nprint('ready', flush=True)\n"
        "while True:\n m = mmap.mmap(-1, 4 << 20)\n m[::4096] = b'x' * 1024\n m.close()\n"
    )
    with inline_python(code) as pid:
        yield pid


def test_excluded_pid_is_left_out_only_on_the_machine_with_that_boot_id(faulter: int) -> None:
    def ranked(boot_id: str) -> set[int]:
        command = probe_command(
            interval_s=0.5, top_n=20, perf=False, exclude_pid=faulter, exclude_boot_id=boot_id
        )
        return {p.pid for p in parse_probe(LocalTransport().run(command, timeout_s=30).stdout).processes}

    assert faulter not in ranked(BOOT_ID)
    assert faulter in ranked("00000000-0000-0000-0000-000000000000")  # another host's controller pid


def test_records_round_trip_through_their_plain_data() -> None:
    s = parse_probe(
        LocalTransport().run(probe_command(interval_s=0.2, top_n=5, perf=False), timeout_s=30).stdout
    )
    assert type(s).from_view(s.view()) == s


@pytest.mark.parametrize("shell", [["/bin/sh"], ["busybox", "ash"]], ids=lambda s: s[0])
def test_reducer_leaves_out_what_a_reaped_child_had_made_before_the_interval(shell: list[str]) -> None:
    # worker 20 (a day old: 90,000 faults by the first sample) exits and is reaped by supervisor 10,
    # having made 100 more; the supervisor's cminflt grows by all 90,100
    first = [stat(10, "supervisor", 50, 0, 500), stat(20, "worker", 90000, 0, 600, ppid=10)]
    assert "children 10 100 0" in reduce_canned(shell, first, [stat(10, "supervisor", 50, 90100, 500)])


@pytest.mark.parametrize("shell", [["/bin/sh"], ["busybox", "ash"]], ids=lambda s: s[0])
def test_reducer_leaves_out_what_a_reaped_grandchild_had_made_before_the_interval(shell: list[str]) -> None:
    # an SSH logout: session child 30 (90,000 faults by the first sample) exits, monitor 20 reaps it and
    # exits, listener 10 reaps the monitor; its cminflt grows by 20's 510 + 30's 90,100
    first = [
        stat(10, "sshd", 50, 0, 500), stat(20, "sshd", 500, 0, 600, ppid=10),
        stat(30, "sshd", 90000, 0, 601, ppid=20),
    ]  # fmt: skip
    assert "children 10 110 0" in reduce_canned(shell, first, [stat(10, "sshd", 50, 90610, 500)])


@pytest.mark.parametrize("shell", [["/bin/sh"], ["busybox", "ash"]], ids=lambda s: s[0])
def test_reducer_leaves_out_another_probes_awk_and_the_session_that_runs_it(shell: list[str]) -> None:
    # another probe over SSH: its awk (a real one: the reducer reads its /proc/PID/cmdline) under shell
    # 40, session 30, monitor 20, listener 10; the session ends during the interval
    other = subprocess.Popen(["awk", 'BEGIN { m = "@@pfdiag test"; system("sleep 60") }'])
    try:
        time.sleep(0.2)  # exec'd
        first = [
            stat(10, "sshd", 50, 0, 500), stat(20, "sshd", 600, 300, 600, ppid=10),
            stat(30, "sshd", 200, 0, 601, ppid=20), stat(40, "sh", 300, 0, 602, ppid=30),
            stat(other.pid, "awk", 400, 0, 603, ppid=40),
        ]  # fmt: skip
        lines = reduce_canned(shell, first, [stat(10, "sshd", 50, 5000, 500)])
    finally:
        other.kill()
        other.wait()
    assert not [x for x in lines if x.startswith(("children 10 ", "proc "))], lines  # the probe's doing


def test_childrens_faults_never_exceed_the_host_wide_count_of_the_interval() -> None:
    text = EXAMPLE.replace("@@pfdiag probe 1", "@@pfdiag probe 2").replace(
        "proc 4242 5000 R 1 800 40 0 pf (x) y", "proc 4242 5000 R 1 800 40 0 pf (x) y\nchildren 4242 99999 7"
    )
    s = parse_probe(text)
    [p] = s.processes
    assert p.children_minflt_delta == 900 and p.children_majflt_delta == 7  # host: 900 minor, 50 major in 2 s
    assert "capped" in s.not_evaluable["processes.4242.children"]
