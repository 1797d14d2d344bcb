"""The controller's instructions per host, counted by callgrind: a cost that does not move with the VM.

CPU seconds on this machine's VM move ~1.7x between hours with its other guests, so a saving of a few
per cent shows only in interleaved pairs, if at all. Instructions executed do not move: this runs a
workload under ``valgrind --tool=callgrind`` at two sizes and prints the instructions per extra host
(the slope, so start-up and imports, paid once, are left out), within ~1 % between runs here.

Three workloads, each the user-space instructions of the controller process only (every thread):

- ``replay``: the triage playbook replayed over an N-host recording, one host at a time
  (``bench.profile_run --replay --forks 1``): the engine, the probe's parsing, the run folder.
- ``logins``: N asyncssh logins one after another, each running one command and closing, through
  pfdiag's ``SSHTransport`` against the simulated hosts (``bench.simhosts``, not counted: callgrind does
  not follow the child processes): the SSH side of a host.
- ``run``: the whole ``pfdiag run playbooks/triage.yml`` against N simulated hosts (started by this
  process, outside callgrind; interval 1 s; 5 hosts in flight): a host with its SSH and its playbook.
  ``--repo`` measures another checkout (a ``git worktree`` of an older commit) with its own simulated
  hosts, answering as its probe did, so the instructions of a host can be set against a base's.

In: the workload and its two sizes. Out: one line per size (instructions) and the slope. Needs valgrind
(``apt-get install valgrind``); a run takes a few minutes (callgrind runs Python ~50x slower).

    python -m bench.instructions replay --sizes 2,42
    python -m bench.instructions logins --sizes 5,45
    python -m bench.instructions run --sizes 5,45 [--repo /tmp/base]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WARM_LOGINS = 3  # logins before the counted ones: the first builds the options and loads the keys
# hosts in flight in a counted run: under callgrind (~50x slower) more at once miss the older
# paramiko transport's fixed auth timeout; the same for every size and checkout
RUN_FORKS = 5


def _instructions(callgrind_out: Path) -> int:
    for line in callgrind_out.read_text().splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"{callgrind_out}: no totals line (did valgrind finish?)")


def _counted(argv: list[str], out: Path, repo: Path = REPO) -> int:
    """The instructions ``argv`` executed in this Python in ``repo``, under callgrind (hash seed fixed:
    dict orders and so the work done are the same run to run)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(repo)}
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, *argv]
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SystemExit(f"{' '.join(argv)} failed under callgrind ({done.returncode}):\n{tail}")
    return _instructions(out)


@contextlib.contextmanager
def _workload(kind: str, size: int, repo: Path, tmp: Path) -> Iterator[list[str]]:
    """The argv to count for ``size`` hosts (the simulated hosts of a ``run`` up while it is used)."""
    if kind == "replay":
        yield ["-m", "bench.profile_run", "--hosts", str(size), "--replay", "--forks", "1", "--no-profile"]
    elif kind == "logins":
        yield ["-m", "bench.instructions", "--logins-child", str(size)]
    else:
        from bench.simhosts import running

        with running(size, 2, repo=repo) as (sim, _pid):
            yield [
                "-m", "diag", "run", "playbooks/triage.yml", "-i", str(sim / "inventory"),
                "-e", "interval_s=1", "-f", str(RUN_FORKS), "-o", str(tmp / f"run{size}"),
                "-T", "600", "--command-timeout", "600", "--host-deadline", "3600",  # callgrind is slow
                "--known-hosts", str(sim / "known_hosts"), "--ssh-config", str(sim / "ssh_config"),
            ]  # fmt: skip


def logins_child(count: int) -> None:
    """``count`` sequential logins + ``true`` + close, after ``WARM_LOGINS``, to simulated hosts."""
    from bench.simhosts import running, sim_hosts
    from diag.transport.base import ConnectOptions
    from diag.transport.sshasync import SSHTransport

    with running(count + WARM_LOGINS, 1) as (sim, _pid):
        options = ConnectOptions(known_hosts=(str(sim / "known_hosts"),), ssh_config=str(sim / "ssh_config"))
        for name, hostvars in sim_hosts(sim):
            transport = SSHTransport(name, dict(hostvars), options, become=False)
            result = transport.run("true", timeout_s=60)
            transport.close()
            if result.exit_code != 0:
                raise SystemExit(f"{name}: exit {result.exit_code}: {result.stderr}")
        time.sleep(0.2)  # the last aborts happen on the loop's next turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", choices=("replay", "logins", "run"))
    parser.add_argument("--sizes", default="", help="SMALL,LARGE (default replay 2,42; logins and run 5,45)")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure (run only)")
    parser.add_argument("--logins-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.logins_child is not None:
        logins_child(args.logins_child)
        return
    if args.workload is None:
        parser.error("say which workload: replay, logins or run")
    if args.repo != REPO and args.workload != "run":
        parser.error("--repo measures a run only")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    sizes = args.sizes or ("2,42" if args.workload == "replay" else "5,45")
    small, large = (int(n) for n in sizes.split(","))
    unit = {"replay": "replayed host", "logins": "login + command", "run": "host of a run"}[args.workload]
    counts = {}
    with tempfile.TemporaryDirectory(prefix="pfdiag-callgrind-") as tmp:
        for size in (small, large):
            with _workload(args.workload, size, args.repo.resolve(), Path(tmp)) as argv:
                counts[size] = _counted(argv, Path(tmp) / f"{size}.out", args.repo.resolve())
            print(f"{args.workload} {size}: {counts[size]:,} instructions", flush=True)
    slope = (counts[large] - counts[small]) / (large - small)
    print(f"{args.workload}: {slope / 1e6:.2f} M instructions per {unit} (slope {small} -> {large})")


if __name__ == "__main__":
    main()
