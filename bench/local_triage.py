"""Measure the local triage: wall time against the sampling interval, probe CPU time, bytes returned.

    python bench/local_triage.py [--interval 1] [--runs 5]

Runs `pfdiag run playbooks/triage.yml -e interval_s=N` on this machine (implicit localhost, local
transport) in a fresh process each time, and the probe alone, and prints a markdown table.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cli(interval: float) -> tuple[float, float, int]:
    """Wall seconds and CPU seconds (controller + probe) of one `pfdiag run`, and the probe's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        cpu0 = children_cpu_s()
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "diag",
                "run",
                str(REPO / "playbooks/triage.yml"),
                "-e",
                f"interval_s={interval}",
                "-o",
                f"{tmp}/run",
                "--json",
                f"{tmp}/r.json",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - t0
        cpu = children_cpu_s() - cpu0
        from diag.runs.store import read_host_line

        line = Path(f"{tmp}/run/hosts.jsonl").read_text().splitlines()[0]
        raw = read_host_line(line).result.raw or ""  # the probe's answer, however the line stores it
        return wall, cpu, len(raw.encode())


def time_probe(interval: float) -> tuple[float, float]:
    """Wall and CPU seconds of the probe alone (sh + awk + cat on this host)."""
    from diag.probe import probe_command

    cmd = probe_command(interval_s=interval, top_n=20, perf=True)
    cpu0 = children_cpu_s()
    t0 = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", cmd], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, children_cpu_s() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    cli = [time_cli(args.interval) for _ in range(args.runs)]
    probe = [time_probe(args.interval) for _ in range(args.runs)]
    med = statistics.median
    print(f"interval {args.interval:g} s, {args.runs} runs each, medians\n")
    print("| what | wall s | over interval s | CPU s | bytes returned |")
    print("|---|---|---|---|---|")
    print(
        f"| `pfdiag run triage.yml` (process start to exit) | {med(w for w, _, _ in cli):.2f} | "
        f"{med(w for w, _, _ in cli) - args.interval:.2f} | {med(c for _, c, _ in cli):.2f} | "
        f"{med(b for _, _, b in cli):,.0f} |"
    )
    print(
        f"| probe alone (`sh -c probe`) | {med(w for w, _ in probe):.2f} | "
        f"{med(w for w, _ in probe) - args.interval:.2f} | {med(c for _, c in probe):.3f} | |"
    )


if __name__ == "__main__":
    main()
