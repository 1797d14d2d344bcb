"""The on-host awk reducer of probe.sh, fed canned stat dumps (mode ``reduce``), under dash and busybox."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diag.probe.pidstat import parse_proc_row
from diag.probe.script import SCRIPT_PATH

SHELLS = [["/bin/sh"]] + ([["busybox", "ash"]] if shutil.which("busybox") else [])


def stat(pid: int, comm: str, minflt: int, majflt: int, start: int, ppid: int = 1) -> str:
    return f"{pid} ({comm}) S {ppid} 1 1 0 -1 0 {minflt} 0 {majflt} 0 0 0 0 0 20 0 1 0 {start} 0 0"


CANNED = "\n".join(
    [
        "@@pfdiag snap 0 100.00",
        "@@pfdiag stat",
        stat(10, "steady", 100, 5, 500),
        stat(11, "exits mid-interval", 50, 0, 510),
        stat(12, "reused", 70, 3, 600),
        stat(13, "two\nlines", 40, 0, 700),
        "cat: /proc/98/stat: No such file or directory",
        "@@pfdiag stat-end",
        "@@pfdiag perf unused not installed",
        "@@pfdiag snap 1 102.00",
        "@@pfdiag stat",
        stat(10, "steady", 150, 9, 500),
        stat(12, "reused", 30, 1, 10050),  # same pid, new starttime: a new process born at 100.5 s
        stat(13, "two\nlines", 40, 0, 700),
        stat(14, "born (x) y", 7, 0, 10100),
        stat(15, "seen late", 1000, 0, 50),  # missed in sample 0 but older: not attributable
        "cat: can't open '/proc/16/stat': Permission denied",
        "cat: /proc/17/stat: No such file or directory",
        "@@pfdiag stat-end",
    ]
)


def reduce(
    shell: list[str], text: str, top: int = 10, exclude: str = ""
) -> tuple[dict[str, int], dict[int, object]]:
    out = subprocess.run(
        [*shell, str(SCRIPT_PATH), "reduce", "1", str(top), "0", "", exclude],
        input=text, capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    lines = out.splitlines()
    totals = dict(item.split("=") for item in next(x for x in lines if x.startswith("totals ")).split()[1:])
    rows = {r.pid: r for r in (parse_proc_row(x) for x in lines if x.startswith("proc "))}
    assert lines[-1] == "@@pfdiag end"
    return {k: int(v) for k, v in totals.items()}, rows  # type: ignore[return-value]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_reducer_computes_deltas_joined_by_pid_and_starttime(shell: list[str]) -> None:
    _, rows = reduce(shell, CANNED)
    steady = rows[10]
    assert (steady.minflt_delta, steady.majflt_delta, steady.new) == (50, 4, False)  # type: ignore[attr-defined]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_reducer_treats_a_reused_pid_as_a_new_process(shell: list[str]) -> None:
    _, rows = reduce(shell, CANNED)
    reused = rows[12]
    assert (reused.minflt_delta, reused.majflt_delta, reused.new, reused.starttime) == (30, 1, True, 10050)  # type: ignore[attr-defined]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_reducer_counts_born_exited_hidden_and_unmatched(shell: list[str]) -> None:
    totals, rows = reduce(shell, CANNED)
    assert rows[14].comm == "born (x) y" and rows[14].new  # type: ignore[attr-defined]
    assert 15 not in rows and 13 not in rows and 11 not in rows
    assert totals["born"] == 2 and totals["exited"] == 2  # pid 11 gone, pid 12's old process gone
    assert totals["hidden"] == 1 and totals["vanished"] == 1 and totals["unmatched"] == 1
    assert totals["seen"] == 5 and totals["faulting"] == 3
    assert (totals["minflt"], totals["majflt"]) == (50 + 30 + 7, 4 + 1)


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_reducer_joins_a_comm_split_by_newline_and_escapes_it(shell: list[str]) -> None:
    text = CANNED.replace(
        stat(13, "two\nlines", 40, 0, 700) + "\n" + stat(14, "born (x) y", 7, 0, 10100),
        stat(13, "two\nlines", 45, 0, 700),
    )
    _, rows = reduce(shell, text)
    assert rows[13].comm == "two\nlines" and rows[13].minflt_delta == 5  # type: ignore[attr-defined]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_reducer_sends_union_of_top_n_by_majflt_and_by_minflt(shell: list[str]) -> None:
    _, rows = reduce(shell, CANNED, top=1)
    assert set(rows) == {10}  # 10 tops both rankings (minflt 50, majflt 4): sent once
    _, rows = reduce(shell, CANNED, top=2)
    assert set(rows) == {10, 12}  # majflt: 10, 12; minflt: 10, 12


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_reducer_leaves_out_the_excluded_controller_but_not_its_children(shell: list[str]) -> None:
    text = CANNED.replace(stat(14, "born (x) y", 7, 0, 10100), stat(14, "born (x) y", 7, 0, 10100, ppid=10))
    totals, rows = reduce(shell, text, exclude="10")
    assert 10 not in rows  # the controller examining its own host is not a culprit
    assert 14 in rows  # a workload it started still is
    assert totals["seen"] == 4


def _awks() -> list[str]:
    """mawk, busybox's awk and the one-true-awk, whichever are installed (gawk too, when it is)."""
    found = [a for a in ("mawk", "gawk", "nawk", "original-awk") if shutil.which(a)]
    return found + (["busybox"] if shutil.which("busybox") else [])


@pytest.mark.parametrize("awk", _awks())
def test_reducer_doubles_backslashes_so_a_comm_comes_back_exact_under_every_awk(
    awk: str, tmp_path: Path
) -> None:
    # `awk` on PATH is the one under test (busybox picks its applet from the name it is run as)
    (tmp_path / "awk").symlink_to(shutil.which(awk) or awk)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    name = "b\\n\\\\q"  # was b<newline>\q under mawk: its "\\\\" replacement put back one backslash
    text = CANNED.replace(stat(14, "born (x) y", 7, 0, 10100), stat(14, name, 7, 0, 10100))
    out = subprocess.run(
        ["/bin/sh", str(SCRIPT_PATH), "reduce", "1", "10", "0", "", ""],
        input=text, capture_output=True, text=True, check=True, timeout=30, env=env,
    ).stdout  # fmt: skip
    rows = {r.pid: r for r in (parse_proc_row(x) for x in out.splitlines() if x.startswith("proc "))}
    assert rows[14].comm == name


def timed(pid: int, comm: str, minflt: int, cpu: tuple[int, int, int, int], start: int, ppid: int = 1) -> str:
    """A stat record with cminflt 0 and CPU time (utime, stime, cutime, cstime: fields 14-17)."""
    ut, st, cut, cst = cpu
    return f"{pid} ({comm}) S {ppid} 1 1 0 -1 0 {minflt} 0 0 0 {ut} {st} {cut} {cst} 20 0 1 0 {start} 0 0"


def cpu_rows(out: str) -> dict[int, tuple[int, ...]]:
    rows = [line.split()[1:] for line in out.splitlines() if line.startswith("cpu ")]
    return {int(r[0]): tuple(int(x) for x in r[1:]) for r in rows}


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_reducer_sends_cpu_time_over_the_interval_with_the_reaped_childs_before_time_taken_off(
    shell: list[str],
) -> None:
    """The child made 3 user + 5 system ticks before the first sample and 7 + 9 in its whole life: only
    4 + 4 were in the interval, as for its faults (issue 16: the cost model's measured time)."""
    text = "\n".join(
        [
            "@@pfdiag snap 0 100.00",
            "@@pfdiag stat",
            timed(20, "parent", 100, (10, 20, 0, 0), 500),
            timed(21, "child", 50, (3, 5, 0, 0), 510, ppid=20),
            "@@pfdiag stat-end",
            "@@pfdiag snap 1 102.00",
            "@@pfdiag stat",
            timed(20, "parent", 400, (12, 50, 7, 9), 500),
            "@@pfdiag stat-end",
        ]
    )
    out = subprocess.run(
        [*shell, str(SCRIPT_PATH), "reduce", "1", "10", "0", "", ""],
        input=text, capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert cpu_rows(out)[20] == (2, 30, 4, 4)


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_reducer_leaves_out_a_pfdiag_controller_found_by_its_command_line(
    shell: list[str], tmp_path: Path
) -> None:
    """A second controller starting (python3 .../pfdiag or python3 -m diag) is pfdiag's load, not the
    host's; an interpreter running another script is the host's. Real processes: the reducer reads
    their /proc/PID/cmdline."""
    procs = []
    for name in ("pfdiag", "pfdiag-helper"):
        script = tmp_path / name
        script.write_text("import sys, time\nprint('ready', flush=True)\ntime.sleep(60)\n")
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        procs.append(proc)
    try:
        ours, theirs = (p.pid for p in procs)
        text = "\n".join(
            [
                "@@pfdiag snap 0 100.00",
                "@@pfdiag stat",
                stat(ours, "python3", 100, 0, 500),
                stat(theirs, "python3", 100, 0, 500),
                "@@pfdiag stat-end",
                "@@pfdiag snap 1 102.00",
                "@@pfdiag stat",
                stat(ours, "python3", 9000, 0, 500),
                stat(theirs, "python3", 9000, 0, 500),
                "@@pfdiag stat-end",
            ]
        )
        totals, rows = reduce(shell, text)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()
    assert ours not in rows and theirs in rows
    assert totals["seen"] == 1
