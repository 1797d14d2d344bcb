"""parse_probe / as_vars over built outputs: old kernels, missing PSI, broken output."""

from __future__ import annotations

import pytest

from diag.probe import parse_probe
from diag.probe.sample import EXAMPLE
from diag.shared.errors import ParseError
from tests.probe.conftest import capture

OLD_VMSTAT = "prometheus__node_exporter__proc-vmstat.txt"


def old_kernel_output() -> str:
    """Two snapshots of a 3.13-style host: no MemAvailable, no PSI, per-zone pgscan names."""
    vm = capture(OLD_VMSTAT).rstrip("\n")
    vm1 = vm.replace("pgscan_direct_normal 6796", "pgscan_direct_normal 6996").replace(
        "workingset_refault 157066", "workingset_refault 157166"
    )
    mem = capture("csm-csci442__proc-snapshot__meminfo.txt").rstrip("\n")
    snap = "@@pfdiag snap {n} {up}\n@@pfdiag file /proc/vmstat\n{vm}\n@@pfdiag file /proc/meminfo\n{mem}\n"
    snap += "@@pfdiag unreadable /proc/pressure/memory No such file or directory\n"
    return (
        "@@pfdiag probe 1 interval=2 top=5\n@@pfdiag facts\nclk_tck=100\nhidepid=none\n"
        + snap.format(n=0, up="10.00", vm=vm, mem=mem)
        + "@@pfdiag perf unused not installed\n"
        + snap.format(n=1, up="12.00", vm=vm1, mem=mem)
        + "@@pfdiag file /proc/swaps\n"
        + capture("jds2001__coreos-sosreport-master1__proc-swaps.txt")
        + "@@pfdiag procs\ntotals seen=3 readable=3 hidden=0 faulting=0 minflt=0 majflt=0\n@@pfdiag end\n"
    )


def test_old_kernel_sums_per_zone_pgscan_and_reports_refaults_as_file() -> None:
    v = parse_probe(old_kernel_output()).as_vars()
    rates, ne = v["rates"], v["not_evaluable"]
    assert rates["pgscan_direct_per_s"] == 100.0  # type: ignore[index]
    assert rates["workingset_refault_file_per_s"] == 50.0  # type: ignore[index]
    assert rates["workingset_refault_anon_per_s"] is None and "5.9" in ne["workingset_refault_anon_per_s"]  # type: ignore[index]


def test_missing_memavailable_and_psi_are_not_evaluable_with_a_reason() -> None:
    v = parse_probe(old_kernel_output()).as_vars()
    assert v["memory"]["mem_available_kib"] is None  # type: ignore[index]
    assert "3.14" in v["not_evaluable"]["mem_available_kib"]  # type: ignore[index]
    assert v["psi"]["memory_some_pct"] is None  # type: ignore[index]
    assert "No such file" in v["not_evaluable"]["psi_memory"]  # type: ignore[index]
    assert v["rates"]["disk_read_kib_per_s"] is None  # type: ignore[index]


def test_as_vars_has_exactly_the_contract_keys() -> None:
    v = parse_probe(EXAMPLE).as_vars()
    assert set(v) == {
        "interval_s", "rates", "psi", "memory", "swaps", "processes", "process_totals", "facts", "perf",
        "buddyinfo", "numa", "locked_processes", "cost", "workloads", "not_evaluable",
    }  # fmt: skip
    assert set(v["cost"]) == {  # type: ignore[arg-type]
        "minor_ms_per_s_low", "minor_ms_per_s_high", "major_stall_ms_per_s_low", "major_stall_ms_per_s_high",
        "psi_memory_some_ms_per_s", "psi_memory_full_ms_per_s", "basis",
    }  # fmt: skip
    assert set(v["processes"][0]["cost"]) == {  # type: ignore[index]
        "minor_ms_per_s", "minor_ms_per_s_low", "minor_ms_per_s_high", "major_stall_ms_per_s_low",
        "major_stall_ms_per_s_high", "sys_ms_per_s", "user_ms_per_s", "children_sys_ms_per_s", "basis",
    }  # fmt: skip
    assert set(v["psi"]) == {
        f"{r}_{k}_{m}" for r in ("memory", "io") for k in ("some", "full") for m in ("avg10", "pct")
    }  # type: ignore[arg-type]
    assert set(v["perf"]) == {  # type: ignore[arg-type]
        "usable", "reason", "page_faults", "minor_faults", "major_faults",
        "page_faults_per_s", "minor_faults_per_s", "major_faults_per_s",
    }  # fmt: skip


def test_cut_output_is_a_parse_error_quoting_the_last_line() -> None:
    with pytest.raises(ParseError, match="pgfault 1950"):
        parse_probe(EXAMPLE[: EXAMPLE.index("pgmajfault 60")])


def test_a_login_banner_before_the_output_is_a_parse_error_quoting_it() -> None:
    with pytest.raises(ParseError, match="Welcome to host"):
        parse_probe("Welcome to host\n" + EXAMPLE)


def test_text_after_a_marker_without_a_kind_is_a_parse_error_naming_its_line() -> None:
    text = EXAMPLE.replace("@@pfdiag perf unused not installed", "@@pfdiag \nstray words")
    with pytest.raises(ParseError, match="stray words") as caught:
        parse_probe(text)
    lineno = text.splitlines().index("stray words") + 1
    assert caught.value.where == f"probe output line {lineno}"


def test_a_malformed_vmstat_line_is_a_parse_error_quoting_it() -> None:
    with pytest.raises(ParseError, match="pgmajfault sixty"):
        parse_probe(EXAMPLE.replace("pgmajfault 60", "pgmajfault sixty"))


def test_zswap_loads_count_as_swap_ins_next_to_pswpin() -> None:
    text = old_kernel_output()
    first = text.index("pswpin ")
    text = text[:first] + "zswpin 100\n" + text[first:]  # snapshot 0
    second = text.index("pswpin ", text.index("@@pfdiag snap 1"))
    text = text[:second] + "zswpin 300\n" + text[second:]  # snapshot 1: 200 zswap loads in 2 s
    rates = parse_probe(text).as_vars()["rates"]
    assert rates["zswpin_per_s"] == 100.0  # type: ignore[index]
    assert rates["swapin_per_s"] == rates["pswpin_per_s"] + 100.0  # type: ignore[index,operator]


def test_without_zswap_counters_swap_ins_are_pswpin_and_zswpin_is_not_evaluable() -> None:
    v = parse_probe(old_kernel_output()).as_vars()
    assert v["rates"]["swapin_per_s"] == v["rates"]["pswpin_per_s"]  # type: ignore[index]
    assert "zswap" in v["not_evaluable"]["zswpin_per_s"]  # type: ignore[index]


def test_output_without_cpu_rows_prices_faults_from_the_rates_and_says_why() -> None:
    """A probe from before CPU time was measured (a recorded run): costs from the rates, bound None."""
    sample = parse_probe(EXAMPLE)
    cost = sample.processes[0].cost
    assert cost is not None and cost.sys_ms_per_s is None
    assert (cost.minor_ms_per_s, cost.major_stall_ms_per_s_low, cost.major_stall_ms_per_s_high) == (
        0.4,
        20.0,
        200.0,
    )
    assert "older pfdiag" in sample.not_evaluable["processes.cost"]


def test_cpu_rows_bound_what_the_minor_faults_can_have_cost() -> None:
    """cpu 4242: 1 tick of system time in 2 s at 100 ticks/s: 5 ms/s; with one tick of slack at most 10."""
    text = EXAMPLE.replace(
        "proc 4242 5000 R 1 800 40 0 pf (x) y\n", "proc 4242 5000 R 1 800 40 0 pf (x) y\ncpu 4242 0 1 0 0\n"
    )
    text = text.replace("proc 4242 5000 R 1 800 40 0 pf (x) y\n", "proc 4242 5000 R 1 800000 40 0 pf (x) y\n")
    sample = parse_probe(text)
    cost = sample.processes[0].cost
    assert cost is not None and cost.sys_ms_per_s == 5.0
    assert cost.minor_ms_per_s == cost.minor_ms_per_s_high == 10.0  # 400,000/s would be 400 ms/s at 1 us
    assert "processes.cost" not in sample.not_evaluable
