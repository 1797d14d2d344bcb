"""What ``pfdiag watch`` costs: controller CPU per host per tick, and bytes per host per tick.

Starts N real sshd hosts on loopback (tests/fixtures/sshd_fleet.py), watches them for T ticks of
E seconds through the same API the CLI uses, and measures, between the first full round of samples
and the end (steady state: the logins are excluded and reported apart):
- controller CPU (this process's user + sys from getrusage) per host per tick;
- bytes per host per tick (what the stream sent and received, from the sample events);
- the first tick's bytes (the baseline: every process once) and the login's controller CPU per host.
Also the local host (no SSH) for comparison. Usage, from the repo root:
  PYTHONPATH=. python bench/watch_cost.py --hosts 10 --ticks 20 --every 1
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from typing import Any

from diag.transport import ConnectOptions
from diag.watch.rules import AlertTracker
from diag.watch.runner import WatchOptions, run_watch
from tests.fixtures.sshd_fleet import start_fleet


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def watch(
    hosts: list[tuple[str, dict[str, object]]], connect: ConnectOptions, ticks: int, every: float
) -> dict[str, Any]:
    samples: list[dict[str, Any]] = []
    marks: dict[str, float] = {}
    names = {name for name, _ in hosts}

    def on_events(events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] == "sample":
                samples.append(event)
        if "steady" not in marks and {s["host"] for s in samples} == names:
            marks["steady"], marks["steady_wall"], marks["steady_count"] = (
                cpu_s(),
                time.monotonic(),
                len(samples),
            )

    started_cpu, started = cpu_s(), time.monotonic()
    tracker = AlertTracker({"proc_minflt_per_s": 1e12})  # rules run, nothing alerts
    run_watch(hosts, connect, WatchOptions(every, count=ticks), tracker, on_events)
    end_cpu = cpu_s()
    steady_ticks = len(samples) - int(marks["steady_count"])
    sizes = [s["bytes"] for s in samples[int(marks["steady_count"]) :]]
    return {
        "hosts": len(hosts),
        "login_cpu_ms_per_host": (marks["steady"] - started_cpu) * 1000 / len(hosts),
        "cpu_ms_per_host_tick": (end_cpu - marks["steady"]) * 1000 / max(1, steady_ticks),
        "bytes_per_host_tick_median": statistics.median(sizes) if sizes else 0,
        "bytes_per_host_tick_max": max(sizes) if sizes else 0,
        "first_tick_bytes": max(s["bytes"] for s in samples[: len(hosts)]),
        "wall_s": time.monotonic() - started,
        "ticks": steady_ticks,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--every", type=float, default=1.0)
    args = parser.parse_args()
    rows = [
        (
            "local",
            watch([("localhost", {"ansible_connection": "local"})], ConnectOptions(), args.ticks, args.every),
        )
    ]
    with start_fleet(args.hosts, bad_hosts=False) as fleet:
        hosts = [(name, fleet.hosts[name]) for name in fleet.healthy]
        rows.append((f"ssh x{args.hosts}", watch(hosts, fleet.options, args.ticks, args.every)))
    print(f"machine: {os.cpu_count()} cores; every {args.every:g} s, {args.ticks} ticks")
    head = f"{'case':<10} {'hosts':>5} {'CPU ms/host/tick':>16} {'bytes/host/tick (median, max)':>30}"
    print(head + f" {'1st tick bytes':>14} {'login CPU ms/host':>17}")
    for case, r in rows:
        print(
            f"{case:<10} {r['hosts']:>5} {r['cpu_ms_per_host_tick']:>16.2f}"
            f" {r['bytes_per_host_tick_median']:>20,.0f}, {r['bytes_per_host_tick_max']:>7,}"
            f" {r['first_tick_bytes']:>14,} {r['login_cpu_ms_per_host']:>17.1f}"
        )


if __name__ == "__main__":
    main()
