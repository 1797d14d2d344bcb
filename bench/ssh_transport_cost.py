"""Controller CPU per host for the SSH transport: connect + one small command + close.

In: ``--hosts N`` loopback sshd hosts started by ``tests.fixtures.sshd_fleet.start_fleet`` and
``--rounds R``. Out: one line per measurement with controller CPU (``time.process_time``, which
counts paramiko's transport threads too, not the sshd children) and wall time per host. The first
connect of the process (imports, Fabric Config) is reported separately as warm-up. Also the hosts'
side: what the sshd listeners and the sessions they reaped used per login (``cutime+cstime``).

Run: ``python -m bench.ssh_transport_cost --hosts 50 --rounds 3``
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from bench.fleet_compare import _fleet_cpu_s
from diag.transport.ssh import SSHTransport
from tests.fixtures.sshd_fleet import Fleet, start_fleet


def one_pass(fleet: Fleet, command: str) -> None:
    for name in fleet.healthy:
        transport = SSHTransport(name, fleet.hosts[name], fleet.options, become=False)
        result = transport.run(command, timeout_s=10)
        transport.close()
        if result.exit_code != 0:
            raise SystemExit(f"{name}: {command!r} exited {result.exit_code}: {result.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--command", default="echo ok")
    parser.add_argument("--profile", action="store_true", help="print the top cProfile entries of one pass")
    args = parser.parse_args()
    with start_fleet(args.hosts, bad_hosts=False) as fleet:
        warm = fleet.healthy[0]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        SSHTransport(warm, fleet.hosts[warm], fleet.options, become=False).run("true", timeout_s=10)
        print(
            f"warm-up (first connect in the process): cpu {1e3 * (time.process_time() - cpu0):.1f} ms,"
            f" wall {1e3 * (time.perf_counter() - wall0):.1f} ms"
        )
        for round_no in range(1, args.rounds + 1):
            host0 = _fleet_cpu_s(fleet)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            one_pass(fleet, args.command)
            cpu = (time.process_time() - cpu0) / args.hosts
            wall = (time.perf_counter() - wall0) / args.hosts
            time.sleep(1.0)  # the listeners count a session's CPU once they have reaped it
            host = (_fleet_cpu_s(fleet) - host0) / args.hosts
            print(
                f"round {round_no}: {args.hosts} hosts sequential connect+{args.command!r}+close:"
                f" controller cpu {1e3 * cpu:.2f} ms/host, wall {1e3 * wall:.2f} ms/host,"
                f" sshd (host) cpu {1e3 * host:.1f} ms/host"
            )
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            one_pass(fleet, args.command)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
