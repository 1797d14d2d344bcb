"""Measure what one probe run costs on this machine: bytes sent back, CPU time, wall time.

Runs ``probe_command(interval_s=1)`` under /bin/sh as it is, then again with 2,000 extra
``sleep`` processes, and prints a small table. CPU is the probe's children user+sys from
os.wait4 (shell, cat, awk, sleep, perf).
Usage, from the repo root: PYTHONPATH=. python bench/probe_cost.py [--perf]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from diag.probe import parse_probe, probe_command
from tests.fixtures.sleepers import sleepers


def run_probe(perf: bool) -> tuple[int, int, float, float]:
    """(processes seen, stdout bytes, CPU ms, wall s) of one probe run."""
    started = time.monotonic()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", probe_command(interval_s=1, top_n=20, perf=perf)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    seen = parse_probe(out.decode()).as_vars()["process_totals"]["seen"]  # type: ignore[index]
    return int(seen), len(out), (usage.ru_utime + usage.ru_stime) * 1000, wall


def main() -> None:
    perf = "--perf" in sys.argv
    rows = [("as it is", *run_probe(perf))]
    with sleepers(2000):
        rows.append(("+2000 sleepers", *run_probe(perf)))
    print(f"{'case':<16} {'processes':>9} {'bytes':>7} {'CPU ms':>7} {'wall s':>6}")
    for case, seen, size, cpu, wall in rows:
        print(f"{case:<16} {seen:>9} {size:>7} {cpu:>7.0f} {wall:>6.2f}")


if __name__ == "__main__":
    main()
