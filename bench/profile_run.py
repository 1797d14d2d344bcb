"""Where a pfdiag run's controller CPU goes, every thread counted: a per-thread cProfile, merged.

``python -m cProfile`` sees only the main thread, and a run's work is in its engine threads and
paramiko's transport threads. This wraps every thread's ``_bootstrap_inner`` (so subclasses that
override ``run``, like paramiko's ``Transport``, are counted too) in a ``cProfile.Profile`` timed by
``time.thread_time`` (CPU, not wall), runs ``pfdiag run`` in this process against simulated hosts
(``bench/simhosts.py``), and prints per thread kind the CPU seconds and the merged top entries.

    python -m bench.profile_run --hosts 200 --interval 1 --top 40
    python -m bench.profile_run --hosts 200 --sort cumulative --pstats /tmp/run.pstats
    python -m bench.profile_run --hosts 200 --no-profile         # CPU per kind of thread only
    python -m bench.profile_run --hosts 200 --replay --forks 1   # the playbook without SSH

cProfile inflates code made of many small calls; check a saving by ``bench.scale`` (``wait4`` CPU).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import pstats
import re
import resource
import tempfile
import threading
import time
from pathlib import Path

from bench.replay_cost import make_recording
from bench.scale import _env
from bench.simhosts import running

REPO = Path(__file__).resolve().parent.parent
_profiles: list[tuple[str, cProfile.Profile]] = []
_lock = threading.Lock()


def _kind(name: str) -> str:
    """A thread's name without its number: 'pfdiag-host_3' and 'Thread-12 (run)' group together."""
    return re.sub(r"[-_ ]?\d+", "", name).strip() or name


_cpu: collections.Counter[str] = collections.Counter()


def _install(profiling: bool) -> None:
    original = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def profiled(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        with _lock:
            _profiles.append((_kind(self.name), profile))
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    def timed(self: threading.Thread) -> None:
        try:
            original(self)
        finally:
            with _lock:
                _cpu[_kind(self.name)] += time.thread_time()

    threading.Thread._bootstrap_inner = profiled if profiling else timed  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--playbook", default="playbooks/triage.yml")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime", help="pstats key: tottime, cumulative, ...")
    parser.add_argument("--pstats", type=Path, help="also save the merged profile here")
    parser.add_argument(
        "--no-profile", action="store_true", help="only the CPU of each kind of thread, no cProfile"
    )
    parser.add_argument("--forks", type=int, help="-f (default: all hosts at once)")
    parser.add_argument(
        "--replay", action="store_true", help="replay an N-host recording (no SSH: the playbook alone)"
    )
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    from diag.cli import main as pfdiag

    with contextlib.ExitStack() as stack:
        out = stack.enter_context(tempfile.TemporaryDirectory())
        argv = ["run", args.playbook, "-f", str(args.forks or args.hosts), "-o", f"{out}/run"]
        if args.replay:
            argv += ["--replay", str(make_recording(Path(out) / "recording", args.hosts))]
        else:
            sim, _ = stack.enter_context(running(args.hosts, 2, _env()))
            argv += ["-i", str(sim / "inventory"), "-e", f"interval_s={args.interval:g}", "-T", "60"]
            argv += ["--known-hosts", str(sim / "known_hosts"), "--ssh-config", str(sim / "ssh_config")]
        _install(not args.no_profile)
        main_profile = cProfile.Profile(time.thread_time)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        main0 = time.thread_time()
        if not args.no_profile:
            main_profile.enable()
        try:
            code = pfdiag(argv)
        except SystemExit as stop:
            code = stop.code
        main_profile.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        _cpu["main"] += time.thread_time() - main0
    if args.no_profile:
        print(f"exit {code}; {args.hosts} hosts: {wall:.2f} s wall, {cpu:.2f} s CPU (process_time)")
        for kind, seconds in _cpu.most_common():
            print(f"  {kind:30} {seconds:7.2f} s CPU ({1e3 * seconds / args.hosts:.1f} ms/host)")
        return
    _profiles.append(("main", main_profile))
    per_kind: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    merged: pstats.Stats | None = None
    for kind, profile in _profiles:
        stats = pstats.Stats(profile)
        per_kind[kind] += stats.total_tt  # type: ignore[attr-defined]
        count[kind] += 1
        merged = stats if merged is None else merged.add(profile)
    print(f"exit {code}; {args.hosts} hosts: {wall:.2f} s wall, {cpu:.2f} s CPU (process_time)")
    print(f"{1e3 * cpu / args.hosts:.1f} ms CPU per host, imports and start-up after this process's own")
    for kind, seconds in per_kind.most_common():
        print(f"  {kind:30} {count[kind]:5} threads {seconds:7.2f} s profiled CPU")
    assert merged is not None
    if args.pstats:
        merged.dump_stats(str(args.pstats))
    merged.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
