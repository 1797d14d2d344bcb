"""A newer kernel adds lines, keys, columns and zones: the probe reads what it knows and skips the rest.

Each test takes a real line of the source and adds what a future kernel might print beside it. What still
fails, on purpose: a line of a type pfdiag reads (``some``/``full``, ``Node N, zone``, a vmstat counter,
a meminfo ``Name: value``, a swaps row, a diskstats row) whose own shape is broken is damage, a
ParseError quoting it, never a silent gap.
"""

from __future__ import annotations

import pytest

from diag.probe.buddyinfo import parse_buddyinfo
from diag.probe.diskstats import parse_diskstats
from diag.probe.memcg import parse_memcg
from diag.probe.meminfo import parse_meminfo
from diag.probe.pidstat import parse_stat, parse_status_kib
from diag.probe.pressure import parse_pressure
from diag.probe.sample import EXAMPLE, parse_probe
from diag.probe.swaps import parse_swaps
from diag.probe.vmstat import parse_vmstat
from diag.shared.errors import ParseError

PSI = [
    "some avg10=0.00 avg60=0.13 avg300=1.24 total=20516060",
    "full avg10=0.00 avg60=0.11 avg300=0.90 total=16796993",
]


def test_a_psi_line_type_a_newer_kernel_adds_is_skipped_and_the_known_ones_read() -> None:
    parsed = parse_pressure([*PSI, "stall avg10=0.00 avg60=0.00 avg300=0.00 total=7", "peak us=120"])
    assert sorted(parsed) == ["full", "some"] and parsed["full"].total_us == 16796993


def test_a_psi_line_with_a_field_a_newer_kernel_adds_still_reads() -> None:
    parsed = parse_pressure([PSI[0] + " avg1200=0.40"])
    assert parsed["some"].total_us == 20516060


def test_a_whole_probe_with_a_new_psi_line_type_is_a_sample_not_a_failure() -> None:
    text = EXAMPLE.replace(
        "some avg10=1.20 avg60=0.50 avg300=0.10 total=31000",
        "some avg10=1.20 avg60=0.50 avg300=0.10 total=31000\nstall avg10=0.00 avg60=0.00 avg300=0.00 total=9",
    )
    assert parse_probe(text).as_vars()["psi"]["memory_some_pct"] == 1.5


@pytest.mark.parametrize(
    "line", ["some avg10=x avg60=0.13 avg300=1.24 total=5", "full avg60=0.11 avg300=0.90 total=1"]
)
def test_a_broken_some_or_full_line_is_still_a_parse_error_quoting_it(line: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_pressure([line])
    assert repr(line) in info.value.render()


def test_a_vmstat_counter_a_newer_kernel_adds_is_kept_beside_the_known_ones() -> None:
    vm = parse_vmstat(["pgfault 43725970", "pgmajfault 838932", "pgfault_future_kind 12"])
    assert vm["pgfault"] == 43725970 and vm["pgfault_future_kind"] == 12


def test_a_meminfo_key_a_newer_kernel_adds_is_kept_with_or_without_a_unit() -> None:
    mi = parse_meminfo(["MemTotal:       24684096 kB", "GPUActive:          1024 kB", "NrFutureThings:  3"])
    assert mi == {"MemTotal": 24684096, "GPUActive": 1024, "NrFutureThings": 3}


def test_a_swaps_column_a_newer_kernel_adds_does_not_shift_the_known_ones() -> None:
    devices = parse_swaps(
        [
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\tZswapped",
            "/dev/zram0                              partition\t\t8388604\t\t76\t\t100\t\t12",
        ]
    )
    assert [(d.device, d.size_kib, d.used_kib, d.priority) for d in devices] == [
        ("/dev/zram0", 8388604, 76, 100)
    ]


def test_a_swaps_header_that_lost_a_known_column_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="Filename Type Size Used Priority"):
        parse_swaps(["Filename Type Size Priority", "/dev/zram0 partition 8388604 100"])


def test_a_buddyinfo_zone_or_line_a_newer_kernel_adds_is_read_or_skipped() -> None:
    zones = parse_buddyinfo(
        [
            "Node 0, zone   Normal    260  76  540  514  420  255  177  83  35  2  108",
            "Node 0, zone   Device      1   0    0    0    0    0    0   0   0  0    0",
            "Total free blocks: 2870",
        ]
    )
    assert [z.zone for z in zones] == ["Normal", "Device"]


def test_diskstats_columns_a_newer_kernel_appends_are_ignored() -> None:
    row = (
        " 254       0 vda 987053 1493937 32362378 104679 64572 1458979 19632432 270726 0 80184 377995 8057 66"
    )
    rows = parse_diskstats([row + " 85226528 2387 1163 202 7 7 7 7"])
    assert rows["vda"].sectors_read == 32362378 and rows["vda"].sectors_written == 19632432


def test_a_memcg_key_a_newer_probe_sends_is_ignored() -> None:
    cg = parse_memcg("memcg 2 limit=1048576 high=max usage=524288 hits=0 oom_kill=1 swap=0 path=/work.slice")
    assert (cg.limit_kib, cg.usage_kib, cg.oom_kills, cg.path) == (1024, 512, 1, "/work.slice")


def test_a_status_key_a_newer_kernel_adds_is_ignored() -> None:
    status = parse_status_kib(
        ["VmRSS:\t   15708 kB", "VmFuture:\t  12 kB", "Untag:\t1", "x86_Thread_features:\t"]
    )
    assert status["VmRSS"] == 15708


def test_stat_fields_a_newer_kernel_appends_are_ignored() -> None:
    fields = " ".join(["0"] * 40)
    st = parse_stat(f"812 (batch) S 1 812 812 0 -1 0 2300 420000 7 9 {fields} 1 2 3")
    assert (st.minflt, st.majflt) == (2300, 7)
