from __future__ import annotations

import pytest

from diag.probe.pidstat import (
    RLIM_INFINITY_KIB,
    parse_memlock_limit_kib,
    parse_proc_row,
    parse_stat,
    parse_status_kib,
)
from diag.shared.errors import ParseError
from tests.probe.conftest import capture, capture_lines


def test_stat_parser_keeps_fields_when_comm_has_parens_and_spaces() -> None:
    # the fixture has a 2nd line (#!/bin/cat ...) after the record: only the first is the record
    st = parse_stat(capture_lines("prometheus__procfs__proc-584-stat.txt")[0])
    assert (st.pid, st.comm, st.state, st.ppid, st.starttime) == (
        1020,
        "(a b ) ( c d) ",
        "R",
        28378,
        10839175,
    )
    assert (st.minflt, st.majflt) == (286, 0)


def test_stat_parser_keeps_fields_when_comm_has_parens() -> None:
    st = parse_stat(capture("shirou__gopsutil__process-68927-stat.txt"))
    assert (st.comm, st.ppid, st.minflt, st.starttime) == ("test(cmd).sh", 68044, 165, 114413973)


def test_stat_parser_keeps_colon_space_and_trailing_space_in_comm() -> None:
    assert parse_stat(capture("csm-csci442__proc-snapshot__727-task-732-stat.txt")).comm == "rs:main Q:Reg"
    st = parse_stat(capture("csm-csci442__proc-snapshot__4413-task-4420-stat.txt"))
    assert st.comm == "alsa-sink-HDMI " and st.starttime == 26731502


def test_stat_parser_reads_truncated_comm_and_fault_counters() -> None:
    st = parse_stat(capture("sysstat__sysstat__root1-8407-stat.txt"))
    assert (st.comm, st.minflt, st.majflt) == ("gnome-terminal-", 22115, 11)


def test_stat_parser_accepts_extreme_values_of_a_kernel_thread() -> None:
    st = parse_stat(capture("prometheus__procfs__proc-26232-stat.txt"))
    assert (st.pid, st.comm, st.ppid, st.starttime) == (33, "ata_sff", 2, 5)


def test_stat_parser_keeps_a_newline_inside_comm() -> None:
    st = parse_stat("77 (a\nb) S 1 77 77 0 -1 0 9 0 4 0 0 0 0 0 20 0 1 0 123 0 0")
    assert (st.comm, st.minflt, st.majflt, st.starttime) == ("a\nb", 9, 4, 123)


def test_stat_parser_quotes_a_record_with_too_few_fields() -> None:
    with pytest.raises(ParseError, match=r"12 \(truncated"):
        parse_stat("12 (truncated) S 1 2 3")


def test_proc_row_unescapes_newline_and_keeps_spaces_in_comm() -> None:
    row = parse_proc_row(r"proc 5 100 R 1 10 2 1  two\nlines ")
    assert (row.pid, row.minflt_delta, row.majflt_delta, row.new, row.comm) == (
        5,
        10,
        2,
        True,
        " two\nlines ",
    )


def test_proc_row_error_quotes_the_line() -> None:
    with pytest.raises(ParseError, match="proc x"):
        parse_proc_row("proc x")


def test_status_reads_kib_lines_with_tabs_or_spaces() -> None:
    tabs = parse_status_kib(capture_lines("prometheus__procfs__proc-26231-status.txt"))
    spaces = parse_status_kib(capture_lines("prometheus__procfs__proc-26235-status.txt"))
    assert "VmRSS" in tabs and "VmSwap" in tabs
    assert "VmRSS" in spaces


def test_memlock_unlimited_compares_larger_than_any_locked_size() -> None:
    line = "Max locked memory         unlimited            unlimited            bytes     "
    assert parse_memlock_limit_kib(line) == RLIM_INFINITY_KIB
    assert parse_memlock_limit_kib("Max locked memory  65536  65536  bytes") == 64
