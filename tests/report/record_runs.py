"""Record the real fleet runs the report tests are built from (run by hand, not by pytest).

In: this machine, root, the workload programs in tests/workloads/ and the loopback sshd fleet of
tests/fixtures/sshd_fleet.py. Out: one run folder per scenario under ``tests/data/runs/<name>/``
(``run.json`` + ``hosts.jsonl``, exactly what ``diag.runs.store.load_run`` reads; ``report.md`` is dropped).

Run: ``python -m tests.report.record_runs [--out tests/data/runs] [--interval 2]``
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from diag.run.service import RunRequest, run_playbook
from tests.fixtures import workloads as wl
from tests.fixtures.sshd_fleet import start_fleet

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = str(ROOT / "playbooks" / "triage.yml")
# Every local host measures this machine: the names only give the run an inventory shape.
LOCAL_INVENTORY = """\
[web]
web01 ansible_connection=local
web02 ansible_connection=local
web03 ansible_connection=local
[db]
db01 ansible_connection=local
[cache]
cache01 ansible_connection=local
"""


@contextlib.contextmanager
def _workload(kind: str) -> Iterator[None]:
    """The real workload behind a scenario: a process named like a real service, faulting."""
    if kind == "quiet":
        yield
    elif kind == "minor-storm":
        with wl._running("minor_storm.py", kind, "java", "--mb", "64"):
            yield
    elif kind == "major-file":
        with wl._running("file_majors.py", kind, "postgres", "--mb", "64", "--dir", str(wl._root_fs_dir())):
            yield
    elif kind == "major-swap":
        parent, version = wl._memory_cgroup_parent()
        with (
            wl._swap_file(wl._root_fs_dir()),
            wl._memory_cgroup(parent, version) as cgroup,
            wl._running("swap_majors.py", kind, "redis-server", "--mb", "128", "--cgroup", str(cgroup)),
        ):
            yield
    else:
        raise ValueError(kind)


def _keep(run_dir: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("run.json", "hosts.jsonl"):
        shutil.copyfile(run_dir / name, dest / name)
    print(f"recorded {dest}")


def record_local(kind: str, out: Path, interval_s: float) -> None:
    with tempfile.TemporaryDirectory(prefix="pfdiag-record-") as tmp:
        inventory = Path(tmp) / "hosts.ini"
        inventory.write_text(LOCAL_INVENTORY)
        argv = ["run", "triage", "-i", "hosts.ini", "-e", f"interval_s={interval_s:g}"]
        with _workload(kind):
            run = run_playbook(
                RunRequest(
                    playbook=PLAYBOOK,
                    inventories=(str(inventory),),
                    extra_vars=(f"interval_s={interval_s:g}",),
                    out_dir=Path(tmp) / "run",
                    argv=tuple(argv),
                )
            )
        assert run.run_dir
        _keep(Path(run.run_dir), out / kind)


def record_ssh_failures(out: Path, interval_s: float) -> None:
    """Two healthy sshd hosts and every bad kind: refused, blackhole, changed key, bad auth, unknown key."""
    with start_fleet(2) as fleet, tempfile.TemporaryDirectory(prefix="pfdiag-record-") as tmp:
        inventory = fleet.write_inventory(Path(tmp) / "fleet.ini")
        run = run_playbook(
            RunRequest(
                playbook=PLAYBOOK,
                inventories=(str(inventory),),
                extra_vars=(f"interval_s={interval_s:g}",),
                connect=fleet.options,
                out_dir=Path(tmp) / "run",
                argv=("run", "triage", "-i", "fleet.ini", "-e", f"interval_s={interval_s:g}"),
            )
        )
        assert run.run_dir
        _keep(Path(run.run_dir), out / "ssh-failures")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "runs")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument(
        "scenarios", nargs="*", default=["quiet", "minor-storm", "major-file", "major-swap", "ssh"]
    )
    args = parser.parse_args()
    for kind in args.scenarios:
        if kind == "ssh":
            record_ssh_failures(args.out, args.interval)
        else:
            record_local(kind, args.out, args.interval)


if __name__ == "__main__":
    main()
