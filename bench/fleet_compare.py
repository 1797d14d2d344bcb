"""Fleet speed against the tools users would pick instead: the same two-sample probe, four ways plus a floor.

In: ``--sizes`` (fleet sizes, default 10,50,200) of real loopback sshd hosts from
``tests.fixtures.sshd_fleet.start_fleet``, ``--interval`` seconds between the probe's two samples.
Out: a markdown table on stdout (and ``--json PATH``) with, per size and way, wall time, controller
CPU seconds, peak controller memory and the ratios against the floor and against tuned Ansible.

The ways, each a subprocess tree started from here (inventory and ssh_config generated per size):
  pfdiag           ``python -m diag run playbooks/triage.yml -e interval_s=I -f N --ssh-config CFG``
  ansible-default  ``ansible-playbook bench/ansible/probe.yml`` with no ansible.cfg (facts, forks 5)
  ansible-tuned    the same with bench/ansible/ansible.cfg (no facts, pipelining, ControlPersist) and -f N
  ssh-fanout       N ``ssh`` clients in parallel, each running the probe command
  floor            N probes in parallel as the login user with no SSH at all: the hosts share this
                   machine's cores, so this is the least any way can take here
Every way runs the exact string ``diag.probe.probe_command(interval_s=I)`` on each host and checks
that every host answered. Host keys are checked against the fleet's known_hosts everywhere.

Controller CPU: ``resource.getrusage(RUSAGE_CHILDREN)`` deltas around the way, after reaping every
process it left behind. This process is a child subreaper, so Ansible's forked workers, its ssh
clients and the ControlPersist masters that daemonise are all reaped here and counted. The sshd
side (the "hosts") is not counted, except for ``floor``, whose CPU is the probes' own work.
Peak memory: the largest sum of RSS over the way's process tree, sampled every 50 ms (shared
pages are counted in every process that maps them, as ``ps`` would; for ``floor`` it is the probes').
Host CPU: what the fleet's sshd listeners and the sessions they reaped used (sshd, the command
wrapper, the probe); on a real fleet that is spread over the hosts, here it shares the 2 cores.
"hosts' bound / floor": max(interval, host CPU / cores), against the floor: what no way can beat
here, however cheap its controller, since its hosts' work runs on the same cores.

Run: ``python -m bench.fleet_compare --sizes 10,50,200 --json /tmp/fleet.json``
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from diag.probe import probe_command
from tests.fixtures.sshd_fleet import LOGIN_USER, Fleet, start_fleet

REPO = Path(__file__).resolve().parent.parent
ANSIBLE_DIR = REPO / "bench" / "ansible"
WAYS = ("pfdiag", "ansible-default", "ansible-tuned", "ssh-fanout", "floor")
SAMPLE_EVERY_S = 0.05
SETTLE_S = 1.0
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
PR_SET_CHILD_SUBREAPER = 36
CLK_TCK = os.sysconf("SC_CLK_TCK")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One way on one fleet size; ``ok_hosts`` < ``hosts`` means the numbers are not comparable."""

    way: str
    hosts: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    ok_hosts: int
    host_cpu_s: float  # sshd + wrapper + probe on the "hosts" (the fleet's sshd trees); floor: the probes

    @property
    def cpu_ms_per_host(self) -> float:
        return 1e3 * self.cpu_s / self.hosts


@dataclass(frozen=True, slots=True)
class Setup:
    """Per-size files every way reads: inventory, ssh_config (fleet known_hosts), probe vars."""

    fleet: Fleet
    tmp: Path
    inventory: Path
    ssh_config: Path
    probe_vars: Path
    command: str


class TreeSampler(threading.Thread):
    """Every 50 ms, the summed RSS of every process under ``roots`` (via /proc/PID/task/PID/children)."""

    def __init__(self, roots: Callable[[], list[int]]) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.roots = roots
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_EVERY_S):
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in _tree(self.roots())))

    def stop(self) -> float:
        self.done.set()
        self.join()
        return self.peak_kib / 1024


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:  # the process exited between listing and reading
        return ""


def _children(pid: int) -> list[int]:
    return [int(p) for p in _read(f"/proc/{pid}/task/{pid}/children").split()]


def _tree(roots: Sequence[int]) -> set[int]:
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(_children(pid))
    return found


def _rss_kib(pid: int) -> int:
    fields = _read(f"/proc/{pid}/statm").split()
    return int(fields[1]) * PAGE_KIB if len(fields) > 1 else 0


def _leftovers(fleet: Fleet) -> list[int]:
    """Our children that are not fleet sshds: orphans reparented here (ControlPersist masters...)."""
    keep = {proc.pid for proc in fleet.processes.values()}
    return [pid for pid in _children(os.getpid()) if pid not in keep]


def _reap(fleet: Fleet) -> None:
    """Stop and wait for every process a way left behind, so RUSAGE_CHILDREN includes them."""
    for pid in _leftovers(fleet):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _fleet_cpu_s(fleet: Fleet) -> float:
    """CPU of the sshd listeners and every session they reaped (utime+stime+cutime+cstime)."""
    ticks = 0
    for proc in fleet.processes.values():
        stat = _read(f"/proc/{proc.pid}/stat")
        fields = stat[stat.rfind(")") + 2 :].split()
        ticks += sum(int(f) for f in fields[11:15]) if len(fields) > 14 else 0
    return ticks / CLK_TCK


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(way: str, setup: Setup, start: Callable[[], list[subprocess.Popen[bytes]]]) -> Measurement:
    """Run one way's processes to the end; wall, CPU of everything they started, peak tree RSS."""
    fleet = setup.fleet
    _reap(fleet)
    procs: list[subprocess.Popen[bytes]] = []
    sampler = TreeSampler(lambda: [p.pid for p in procs] + _leftovers(fleet))
    host0, cpu0, wall0 = _fleet_cpu_s(fleet), _children_cpu_s(), time.perf_counter()
    sampler.start()
    procs.extend(start())
    codes = [proc.wait() for proc in procs]
    wall = time.perf_counter() - wall0
    peak = sampler.stop()
    _reap(fleet)
    time.sleep(SETTLE_S)  # a client can exit before the host's sshd has reaped that session
    cpu = _children_cpu_s() - cpu0
    host = cpu if way == "floor" else _fleet_cpu_s(fleet) - host0
    ok = count_ok(way, setup, codes)
    return Measurement(
        way, len(fleet.healthy), round(wall, 2), round(cpu, 2), round(peak, 1), ok, round(host, 2)
    )


def count_ok(way: str, setup: Setup, codes: list[int]) -> int:
    """Hosts that really returned a probe result, from each tool's own output."""
    out = setup.tmp / way
    if way == "pfdiag":
        lines = (out / "run" / "hosts.jsonl").read_text().splitlines()
        return sum(json.loads(line)["result"]["status"] == "ok" for line in lines)
    if way.startswith("ansible"):
        recap = RECAP.findall((out / "stdout").read_text())
        return sum(unreachable == "0" and failed == "0" for _, unreachable, failed in recap)
    return sum(
        code == 0 and (out / f"{i}.out").read_text().rstrip().endswith("@@pfdiag end")
        for i, code in enumerate(codes)
    )


def _spawn(
    args: list[str],
    out: Path,
    *,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    with out.open("wb") as handle:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            user=user,
        )


def start_pfdiag(setup: Setup, interval_s: float) -> list[subprocess.Popen[bytes]]:
    out = setup.tmp / "pfdiag"
    out.mkdir()
    n = len(setup.fleet.healthy)
    args = [sys.executable, "-m", "diag", "run", "playbooks/triage.yml", "-i", str(setup.inventory)]
    args += ["-e", f"interval_s={interval_s:g}", "-f", str(n), "--ssh-config", str(setup.ssh_config)]
    args += ["--host-key-policy", "strict", "-o", str(out / "run")]
    return [_spawn(args, out / "stdout", cwd=REPO)]


def start_ansible(setup: Setup, tuned: bool) -> list[subprocess.Popen[bytes]]:
    way = "ansible-tuned" if tuned else "ansible-default"
    out = setup.tmp / way
    out.mkdir()
    empty = out / "empty.cfg"
    empty.write_text("")  # "no ansible.cfg": keeps /etc/ansible/ansible.cfg out of the default variant
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg" if tuned else empty),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(out / "cp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    common = f"-o UserKnownHostsFile={setup.fleet.known_hosts} -o GlobalKnownHostsFile=/dev/null"
    args = ["ansible-playbook", "-i", str(setup.inventory), str(ANSIBLE_DIR / "probe.yml")]
    args += ["-e", f"@{setup.probe_vars}", "-e", json.dumps({"ansible_ssh_common_args": common})]
    if tuned:
        args += ["-f", str(len(setup.fleet.healthy))]
    return [_spawn(args, out / "stdout", cwd=out, env=env)]


def start_ssh(setup: Setup) -> list[subprocess.Popen[bytes]]:
    out = setup.tmp / "ssh-fanout"
    out.mkdir()
    procs = []
    for i, name in enumerate(setup.fleet.healthy):
        host = setup.fleet.hosts[name]
        args = ["ssh", "-F", str(setup.ssh_config), "-i", str(setup.fleet.client_key)]
        args += ["-p", str(host["ansible_port"]), f"{LOGIN_USER}@{host['ansible_host']}", setup.command]
        procs.append(_spawn(args, out / f"{i}.out"))
    return procs


def start_floor(setup: Setup) -> list[subprocess.Popen[bytes]]:
    """The probe as the login user (same uid, so the same perf decision as over SSH), no SSH."""
    out = setup.tmp / "floor"
    out.mkdir()
    home = {"HOME": f"/home/{LOGIN_USER}", "PATH": "/usr/bin:/bin"}
    return [
        _spawn(["/bin/sh", "-c", setup.command], out / f"{i}.out", user=LOGIN_USER, env=home, cwd="/")
        for i in range(len(setup.fleet.healthy))
    ]


@contextlib.contextmanager
def fleet_setup(n: int, interval_s: float) -> Iterator[Setup]:
    with start_fleet(n, bad_hosts=False) as fleet, tempfile.TemporaryDirectory(prefix="pfdiag-cmp-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the floor's probes run as the login user with cwd elsewhere; outputs are ours
        ssh_config = root / "ssh_config"
        ssh_config.write_text(
            f"Host *\n  UserKnownHostsFile {fleet.known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n  BatchMode yes\n  IdentitiesOnly yes\n"
        )
        command = probe_command(interval_s=interval_s)
        probe_vars = root / "probe_vars.yml"
        probe_vars.write_text(f"probe_command: !unsafe {json.dumps(command)}\n")  # JSON is YAML
        yield Setup(
            fleet, root, fleet.write_inventory(root / "inventory.ini"), ssh_config, probe_vars, command
        )


def run_size(n: int, args: argparse.Namespace) -> list[Measurement]:
    results = []
    with fleet_setup(n, args.interval) as setup:
        starters: dict[str, Callable[[], list[subprocess.Popen[bytes]]]] = {
            "floor": lambda: start_floor(setup),
            "pfdiag": lambda: start_pfdiag(setup, args.interval),
            "ssh-fanout": lambda: start_ssh(setup),
            "ansible-tuned": lambda: start_ansible(setup, tuned=True),
            "ansible-default": lambda: start_ansible(setup, tuned=False),
        }
        for way, start in starters.items():
            if way not in args.ways:
                continue
            if way == "ansible-default" and n > args.skip_default_ansible_above:
                print(f"N={n}: ansible-default skipped (above --skip-default-ansible-above)")
                continue
            result = measure(way, setup, start)
            print(
                f"N={n}: {way}: {result.wall_s} s wall, {result.cpu_s} s CPU, {result.ok_hosts}/{n} ok",
                flush=True,
            )
            results.append(result)
    return results


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def hosts_bound_s(r: Measurement, interval_s: float, cores: int) -> float:
    """The least wall time this way could take here even with a free controller: every host spans the
    interval, and what its hosts (sshd, wrapper, probe) spent must fit on the cores they share with
    it. Sessions count once reaped, so this can only be too low: a way cannot beat it here."""
    return max(interval_s, r.host_cpu_s / cores)


def table(results: list[Measurement], interval_s: float = 1.0, cores: int = os.cpu_count() or 1) -> str:
    """Markdown: per size, each way with its ratios to the floor and to tuned ansible-playbook, and
    the hosts' bound (``hosts_bound_s``) against the floor's wall time."""
    lines = [
        "| N | way | wall s | wall / floor | tuned ansible / wall | controller CPU s | CPU ms/host"
        " | peak MiB | host CPU s | hosts' bound / floor | ok |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted({r.hosts for r in results}):
        row = {r.way: r for r in results if r.hosts == n}
        floor = row["floor"].wall_s if "floor" in row else None
        tuned = row["ansible-tuned"].wall_s if "ansible-tuned" in row else None
        for way in WAYS:
            if way not in row:
                continue
            r = row[way]
            lines.append(
                f"| {n} | {way} | {r.wall_s:.1f} | {_ratio(r.wall_s, floor)} | {_ratio(tuned, r.wall_s)} |"
                f" {r.cpu_s:.2f} | {r.cpu_ms_per_host:.1f} | {r.peak_rss_mib:.0f} | {r.host_cpu_s:.1f}"
                f" | {_ratio(hosts_bound_s(r, interval_s, cores), floor)} | {r.ok_hosts}/{n} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200", help="fleet sizes, comma-separated")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between the two samples")
    parser.add_argument("--ways", default=",".join(WAYS), help="subset of: " + ",".join(WAYS))
    parser.add_argument("--skip-default-ansible-above", type=int, default=50, metavar="N")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.ways = [w for w in args.ways.split(",") if w]
    unknown = set(args.ways) - set(WAYS)
    if unknown:
        parser.error(f"unknown ways: {', '.join(sorted(unknown))}")
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(
            "prctl(PR_SET_CHILD_SUBREAPER) failed: daemonised ssh masters would escape the CPU count"
        )
    results: list[Measurement] = []
    for n in (int(s) for s in args.sizes.split(",")):
        results.extend(run_size(n, args))
    print()
    print(
        f"interval {args.interval:g} s, {os.cpu_count()} cores; controller CPU = children user+sys;"
        " peak = summed tree RSS sampled every 50 ms"
    )
    if "ansible-default" in args.ways:
        print(f"ansible-default is skipped above N = {args.skip_default_ansible_above}")
    print(table(results, args.interval, os.cpu_count() or 1))
    if args.json:
        data = {
            "interval_s": args.interval,
            "cores": os.cpu_count(),
            "skip_default_ansible_above": args.skip_default_ansible_above,
            "results": [{**asdict(r), "cpu_ms_per_host": round(r.cpu_ms_per_host, 2)} for r in results],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
