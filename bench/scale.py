"""Scale bench: one controller, ``--workers 2`` and a two-worker Dask cluster over 1,000 cheap hosts.

Real sshd processes cost this 2-core machine more than the controller does, so the hosts are
simulated (``bench/simhosts.py``: asyncssh servers in their own processes answering the probe with
a recorded capture after sleeping the interval). pfdiag runs unchanged: Fabric/paramiko, strict
host-key checks against the simulated hosts' known_hosts, the whole triage playbook per host.

For each way: wall time (and wall minus the interval), controller CPU (user+sys from ``wait4`` of
pfdiag, which includes the local cluster it starts; for the Dask cluster also of the scheduler and
workers the bench starts), CPU ms per host, and peak memory (summed RSS of the controller's process
tree, sampled every 50 ms). The simulated hosts' CPU is reported apart: it is not the controller's.

    python -m bench.scale --hosts 1000 --interval 1 --json /tmp/scale.json
    python -m bench.scale --hosts 20 --ways single,workers2,dask2      # a smoke run
    python -m bench.scale --slope 200,1000 --rounds 2                 # issue 19's per-host slope

``--slope SMALL,LARGE`` runs a lone controller (way ``single``) over the first SMALL and then all LARGE
of the same simulated hosts, alternating for ``--rounds``, and prints the slope (CPU of LARGE minus CPU of
SMALL, per extra host: what one more host costs), the fixed part (CPU of SMALL minus SMALL x slope: the
interpreter, imports and reports paid once a run) and both walls.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fleet_compare import TreeSampler, _rss_kib
from bench.simhosts import running
from tests.fixtures.sshd_fleet import free_port

REPO = Path(__file__).resolve().parent.parent
WAYS = ("single", "workers2", "dask2")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Measurement:
    way: str
    hosts: int
    interval_s: float
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    ok_hosts: int
    hosts_cpu_s: float  # the simulated hosts' servers, not the controller

    @property
    def cpu_ms_per_host(self) -> float:
        return 1e3 * self.cpu_s / self.hosts


def _tree(roots: list[int]) -> set[int]:
    """``roots`` and their descendants, whichever thread started them (dask's nannies are not the main
    thread, and ``/proc/PID/task/PID/children`` lists only the main thread's children)."""
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except OSError:  # the thread or process ended meanwhile
                continue
    return found


class _AllThreadsSampler(TreeSampler):
    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in _tree(self.roots())))


def _env() -> dict[str, str]:
    # the README's way to run workers for pfdiag: without Dask's per-thread stack profiler
    return {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}


def _cpu_of(pids: list[int]) -> float:
    """utime+stime+cutime+cstime of live processes (the simulated hosts' servers)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        total += sum(int(f) for f in fields[11:15])
    return total / CLK_TCK


def _wait(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Exit code and user+sys CPU of ``proc`` and every child it reaped (``wait4``)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def _start_cluster(tmp: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    from distributed import Client

    port = free_port("127.0.0.1")
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp / "cluster.log").open("wb")
    scheduler = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
    scheduler += ["--port", str(port), "--dashboard-address", ":0", "--no-show"]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1"]
    worker += ["--host", "127.0.0.1", "--no-dashboard", "--no-nanny"]
    procs = [subprocess.Popen(scheduler, env=_env(), stdout=log, stderr=log, cwd=tmp)]
    procs += [subprocess.Popen(worker, env=_env(), stdout=log, stderr=log, cwd=tmp) for _ in range(2)]
    with Client(address, timeout="60s", set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
    return address, procs


def _stop_cluster(procs: list[subprocess.Popen[bytes]]) -> float:
    """Workers first, then the scheduler; a worker still retrying its scheduler after 15 s is killed."""
    workers, scheduler = procs[1:], procs[0]
    for proc in workers:
        proc.terminate()
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the workers' exit
    for proc in workers:
        if _alive(proc):
            proc.kill()
    scheduler.terminate()
    return sum(_wait(proc)[1] for proc in procs)


def _alive(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` runs (without reaping it: ``_wait`` must get its rusage)."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


def measure(
    way: str,
    args: argparse.Namespace,
    sim: Path,
    hosts_pids: Callable[[], list[int]],
    hosts: int | None = None,
) -> Measurement:
    """One pfdiag run over the first ``hosts`` simulated hosts (all of them by default)."""
    hosts = hosts or args.hosts
    out = Path(tempfile.mkdtemp(prefix=f"pfdiag-scale-{way}-"))
    inventory = sim / "inventory"
    if hosts != args.hosts:
        inventory = out / "inventory"
        inventory.write_text("\n".join((sim / "inventory").read_text().splitlines()[: hosts + 1]) + "\n")
    argv = [sys.executable, "-m", "diag", "run", "playbooks/triage.yml", "-i", str(inventory)]
    argv += ["-e", f"interval_s={args.interval:g}", "-f", str(args.forks or hosts)]
    argv += ["--known-hosts", str(sim / "known_hosts"), "--ssh-config", str(sim / "ssh_config")]
    argv += ["-T", "60", "-o", str(out / "run")]
    cluster: list[subprocess.Popen[bytes]] = []
    if way == "workers2":
        argv += ["--workers", "2"]
    elif way == "dask2":
        address, cluster = _start_cluster(out)  # started before the clock: an existing cluster
        argv += ["--scheduler", address]
    procs: list[subprocess.Popen[bytes]] = []
    sampler = _AllThreadsSampler(lambda: [p.pid for p in procs + cluster])
    hosts0 = _cpu_of(hosts_pids())
    wall0 = time.perf_counter()
    sampler.start()
    with (out / "stdout").open("wb") as log:
        procs.append(subprocess.Popen(argv, env=_env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
    code, cpu = _wait(procs[0])
    wall = time.perf_counter() - wall0
    peak = sampler.stop()
    hosts_cpu = _cpu_of(hosts_pids()) - hosts0
    if cluster:
        cpu += _stop_cluster(cluster)  # the workers' and scheduler's whole lives, idle time included
    lines = (out / "run" / "hosts.jsonl").read_text().splitlines() if code in (0, 4) else []
    ok = sum(json.loads(line)["result"]["status"] == "ok" for line in lines)
    if code != 0:
        print(f"{way}: exit {code}; see {out / 'stdout'}", file=sys.stderr)
    return Measurement(
        way, hosts, args.interval, round(wall, 2), round(cpu, 2), round(peak, 1), ok, round(hosts_cpu, 2)
    )


def table(results: list[Measurement]) -> str:
    lines = [
        "| hosts | way | wall s | wall - interval s | controller CPU s | CPU ms/host | peak MiB"
        " | sim hosts CPU s | ok |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.hosts} | {r.way} | {r.wall_s:.1f} | {r.wall_s - r.interval_s:.1f} | {r.cpu_s:.2f} |"
            f" {r.cpu_ms_per_host:.1f} | {r.peak_rss_mib:.0f} | {r.hosts_cpu_s:.1f}"
            f" | {r.ok_hosts}/{r.hosts} |"
        )
    return "\n".join(lines)


def slope(small: list[Measurement], large: list[Measurement]) -> str:
    """Per extra host and fixed CPU from the medians of each size's runs."""
    import statistics

    cpu_small = statistics.median(m.cpu_s for m in small)
    cpu_large = statistics.median(m.cpu_s for m in large)
    n_small, n_large = small[0].hosts, large[0].hosts
    per_host = (cpu_large - cpu_small) / (n_large - n_small)
    fixed = cpu_small - n_small * per_host
    walls = ", ".join(f"{m.hosts}: {m.wall_s:.1f} s" for m in small + large)
    return (
        f"slope {n_small} -> {n_large} hosts: {1e3 * per_host:.1f} ms of controller CPU per extra host;"
        f" fixed part {fixed:.2f} s a run; medians {cpu_small:.2f} s and {cpu_large:.2f} s of CPU;"
        f" walls {walls}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--forks", type=int, help="-f for pfdiag (default: all hosts at once)")
    parser.add_argument("--ways", default=",".join(WAYS), help="subset of: " + ",".join(WAYS))
    parser.add_argument("--server-procs", type=int, default=2, help="simulated-host server processes")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--slope", help="SMALL,LARGE: per-extra-host CPU of a lone run (way single)")
    parser.add_argument("--rounds", type=int, default=1, help="with --slope: runs of each size, alternated")
    args = parser.parse_args()
    if args.slope:
        sizes = [int(n) for n in args.slope.split(",")]
        if len(sizes) != 2 or not 0 < sizes[0] < sizes[1]:
            parser.error("--slope takes SMALL,LARGE with 0 < SMALL < LARGE")
        args.hosts, args.ways = sizes[1], "single"
    ways = [w for w in args.ways.split(",") if w]
    if set(ways) - set(WAYS):
        parser.error(f"unknown ways: {', '.join(sorted(set(ways) - set(WAYS)))}")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # ~3 fds per host on the controller
    results = []
    with running(args.hosts, args.server_procs, _env()) as (sim, server_pid):

        def hosts_pids() -> list[int]:
            return sorted(_tree([server_pid]))

        if args.slope:
            runs: dict[int, list[Measurement]] = {n: [] for n in sizes}
            for _ in range(args.rounds):
                for n in sizes:
                    result = measure("single", args, sim, hosts_pids, n)
                    print(
                        f"{n} hosts: {result.wall_s} s wall, {result.cpu_s} s CPU,"
                        f" {result.peak_rss_mib} MiB, {result.ok_hosts}/{n} ok",
                        flush=True,
                    )
                    runs[n].append(result)
                    results.append(result)
            print(slope(runs[sizes[0]], runs[sizes[1]]))
        for way in ways if not args.slope else []:
            result = measure(way, args, sim, hosts_pids)
            print(
                f"{way}: {result.wall_s} s wall, {result.cpu_s} s CPU"
                f" ({result.cpu_ms_per_host:.1f} ms/host), {result.peak_rss_mib} MiB,"
                f" {result.ok_hosts}/{args.hosts} ok",
                flush=True,
            )
            results.append(result)
    print(
        f"\ninterval {args.interval:g} s, {os.cpu_count()} cores,"
        f" {args.server_procs} simulated-host processes"
    )
    print(table(results))
    if args.json:
        data = [{**asdict(r), "cpu_ms_per_host": round(r.cpu_ms_per_host, 2)} for r in results]
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
