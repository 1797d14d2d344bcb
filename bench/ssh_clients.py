"""Controller CPU per host of Python SSH clients: N concurrent logins, one probe each, then close.

Whether another SSH layer would get a host under pfdiag's CPU target: pfdiag's ``ParamikoTransport``
(Fabric + paramiko, a thread per host as in a run, host keys checked), pfdiag's ``SSHTransport``
(asyncssh under the same threads, one event loop for all: what ``ansible_connection: ssh`` opens),
bare asyncssh (one event loop, host keys checked), bare asyncssh as pfdiag configures it (AES-GCM
first, one ``SSHClientConnectionOptions`` passed to every connect: the floor pfdiag's wrapper is held
to) and parallel-ssh (libssh2 in C under gevent, if
installed; it does not check host keys here) against the same simulated hosts (``bench/simhosts.py``:
answer after the interval with an 18 KB recorded probe output). Each client runs in its own process;
CPU is that process's ``time.process_time`` over the N sessions (imports and one warm-up login excluded).

    python -m bench.ssh_clients --hosts 200 --interval 1
    python -m bench.ssh_clients --hosts 200 --python /tmp/pvenv/bin/python   # an env with parallel-ssh
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.simhosts import running

REPO = Path(__file__).resolve().parent.parent
CLIENTS = ("pfdiag-paramiko", "pfdiag", "asyncssh", "asyncssh-gcm", "parallel-ssh")

_COMMON = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, REPO)
hosts = []
for line in (Path(SIM) / "inventory").read_text().splitlines()[1:]:
    name, *kv = line.split()
    hosts.append({"name": name, **dict(x.split("=", 1) for x in kv)})
command = f"pfdiag probe {INTERVAL} x"
"""

_PFDIAG = """
import threading
from diag.transport.base import ConnectOptions
from diag.transport.ssh import ParamikoTransport as SSHTransport
opts = ConnectOptions(known_hosts=(SIM + "/known_hosts",), ssh_config=SIM + "/ssh_config")
def one(h, cmd, out):
    vars = {**h, "ansible_port": int(h["ansible_port"])}
    t = SSHTransport(h["name"], vars, opts, become=False)
    out.append(len(t.run(cmd, timeout_s=60).stdout)); t.close()
one(hosts[0], "echo ok", [])
out = []
cpu0, wall0 = time.process_time(), time.perf_counter()
threads = [threading.Thread(target=one, args=(h, command, out)) for h in hosts[1:]]
for t in threads: t.start()
for t in threads: t.join()
time.sleep(0.3)  # paramiko's threads end after close
"""

# The asyncssh transport as a run uses it: a thread per host (the engine's), one event loop under them.
_PFDIAG_ASYNCSSH = _PFDIAG.replace(
    "from diag.transport.ssh import ParamikoTransport as SSHTransport",
    "from diag.transport.sshasync import SSHTransport",
).replace("time.sleep(0.3)  # paramiko's threads end after close", "")

# Both asyncssh clients: one warm-up login, then every host's session at once on one loop.
_ASYNC_RUN = """
async def main():
    global out, cpu0, wall0
    await one(hosts[0], "echo ok")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = await asyncio.gather(*(one(h, command) for h in hosts[1:]))
asyncio.run(main())
"""

_ASYNCSSH = """
import asyncio, asyncssh
key = asyncssh.read_private_key(hosts[0]["ansible_ssh_private_key_file"])
known = asyncssh.read_known_hosts(SIM + "/known_hosts")
async def one(h, cmd):
    async with asyncssh.connect(h["ansible_host"], port=int(h["ansible_port"]), username=h["ansible_user"],
                                client_keys=[key], known_hosts=known, config=None) as conn:
        return len((await conn.run(cmd, check=True)).stdout)
"""

# The same with AES-GCM first (asyncssh's default chacha20-poly1305 costs more per packet) and one
# options object built up front, as pfdiag's transport has them (diag/transport/sshoptions.py).
_ASYNCSSH_GCM = """
import asyncio, asyncssh
key = asyncssh.read_private_key(hosts[0]["ansible_ssh_private_key_file"])
known = asyncssh.read_known_hosts(SIM + "/known_hosts")
shared = asyncssh.SSHClientConnectionOptions(username=hosts[0]["ansible_user"], client_keys=[key],
    known_hosts=known, config=None, encryption_algs=["aes128-gcm@openssh.com"])
async def one(h, cmd):
    async with asyncssh.connect(h["ansible_host"], port=int(h["ansible_port"]), options=shared) as conn:
        return len((await conn.run(cmd, check=True)).stdout)
"""

_PSSH = """
from pssh.clients import ParallelSSHClient
from pssh.config import HostConfig
rest = hosts[1:]
client = ParallelSSHClient([h["ansible_host"] for h in rest], user=rest[0]["ansible_user"],
    pkey=rest[0]["ansible_ssh_private_key_file"], pool_size=len(rest), num_retries=1,
    host_config=[HostConfig(port=int(h["ansible_port"])) for h in rest])
cpu0, wall0 = time.process_time(), time.perf_counter()
output = client.run_command(command)
client.join(output)
out = [len("\\n".join(o.stdout)) for o in output]
"""

_REPORT = """
print(json.dumps({"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0,
                  "hosts": len(hosts) - 1, "ok": sum(n > 1000 for n in out)}))
"""


def measure(client: str, python: str, sim: Path, interval: float) -> dict[str, float] | None:
    body = {
        "pfdiag-paramiko": _PFDIAG,
        "pfdiag": _PFDIAG_ASYNCSSH,
        "asyncssh": _ASYNCSSH + _ASYNC_RUN,
        "asyncssh-gcm": _ASYNCSSH_GCM + _ASYNC_RUN,
        "parallel-ssh": _PSSH,
    }[client]
    head = f"REPO = {str(REPO)!r}; SIM = {str(sim)!r}; INTERVAL = {interval!r}\n"
    proc = subprocess.run(
        [python, "-c", head + _COMMON + body + _REPORT], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        print(f"{client}: not measured: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    data: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200, help="concurrent sessions (one more warms up)")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--python", default=sys.executable, help="interpreter for parallel-ssh")
    args = parser.parse_args()
    print("| client | hosts | controller CPU ms/host | wall s | ok |")
    print("|---|---:|---:|---:|---:|")
    with running(args.hosts + 1, 2) as (sim, _):
        for client in args.clients.split(","):
            python = args.python if client == "parallel-ssh" else sys.executable
            r = measure(client, python, sim, args.interval)
            if r is not None:
                ms = 1e3 * r["cpu_s"] / r["hosts"]
                row = f"| {client} | {r['hosts']:.0f} | {ms:.1f} | {r['wall_s']:.2f} | {r['ok']:.0f} |"
                print(row, flush=True)


if __name__ == "__main__":
    main()
