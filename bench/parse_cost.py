"""What parsing one probe answer costs the controller: thread CPU per call, best of ``--rounds``.

The answers are those of tests/data/runs/quiet (5 real hosts, ~700 lines each); each step is timed
alone (``split_sections``, one snapshot's ``/proc/vmstat`` and ``/proc/meminfo``, ``parse_raw``, the
whole ``parse_probe``). Best of the rounds, since the machine's other load only ever adds.

    python -m bench.parse_cost --rounds 7
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diag.probe.meminfo import parse_meminfo
from diag.probe.sample import parse_probe, parse_raw
from diag.probe.sections import split_sections
from diag.probe.vmstat import parse_vmstat
from diag.runs.store import read_host_line

REPO = Path(__file__).resolve().parent.parent


def best_us(call: Callable[[Any], object], inputs: list[Any], calls: int, rounds: int) -> float:
    """The fastest round's thread CPU per call, in microseconds."""
    times = []
    for _ in range(rounds):
        started = time.thread_time()
        for i in range(calls):
            call(inputs[i % len(inputs)])
        times.append((time.thread_time() - started) / calls)
    return 1e6 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    lines = (REPO / "tests" / "data" / "runs" / "quiet" / "hosts.jsonl").read_text().splitlines()
    raws = [raw for raw in (read_host_line(line).result.raw for line in lines) if raw]
    sections = [s for raw in raws for s in split_sections(raw)]
    vmstat = [s.lines for s in sections if s.args == "/proc/vmstat"]
    meminfo = [s.lines for s in sections if s.args == "/proc/meminfo"]
    steps: list[tuple[str, Callable[[Any], object], list[Any]]] = [
        ("split_sections", split_sections, raws),
        ("parse_vmstat (one snapshot)", parse_vmstat, vmstat),
        ("parse_meminfo (one snapshot)", parse_meminfo, meminfo),
        ("parse_raw", parse_raw, raws),
        ("parse_probe", parse_probe, raws),
    ]
    for name, call, inputs in steps:
        print(f"{name:30} {best_us(call, inputs, args.calls, args.rounds):8.1f} us")


if __name__ == "__main__":
    main()
