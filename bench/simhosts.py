"""Cheap simulated SSH hosts for the scale bench: asyncssh servers answering the probe from a capture.

In: how many hosts, a folder, a recorded run (``tests/data/runs/<name>/hosts.jsonl``: its first host's
probe output is every host's answer) and how many server processes. Out, in the folder: ``inventory``
(one host per loopback address, 127.0.0.10 upward, each its own listening port), ``known_hosts`` (the
servers' host key for every ``[address]:port``, so pfdiag's strict host-key check runs as usual),
``client_ed25519`` (the key the servers accept) and an empty ``ssh_config``. Then it prints ``ready``
and serves until SIGTERM. A probe command (``sh -c '<probe.sh>' pfdiag probe INTERVAL ...``) is
answered after sleeping INTERVAL seconds (a host sampling), anything else at once, always with the
recorded probe output as this pfdiag's probe would have sent it (``as_sent_now``: of /proc/vmstat
and /proc/meminfo only the lines read, as the probe's awk sends them since its version 3).

    python -m bench.simhosts --hosts 1000 --dir /tmp/sim --procs 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncssh

from diag.probe.sections import MARKER, split_sections
from diag.probe.sources import BY_PATH
from tests.fixtures.sent_lines import sent_lines
from tests.fixtures.sshd_fleet import loopback_address

REPO = Path(__file__).resolve().parent.parent
# The probe's interval, its first argument after the script (``sh -c '<probe.sh>' pfdiag probe INTERVAL``);
# the script's own text holds "@@pfdiag probe VERSION" before it.
PROBE = re.compile(r"' pfdiag probe ([0-9.]+) ")
USER = "bench"


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True  # authentication required: the client key below


def _capture(run: str) -> bytes:
    path = REPO / "tests" / "data" / "runs" / run / "hosts.jsonl"
    with path.open(encoding="utf-8") as handle:
        raw: str = json.loads(handle.readline())["raw"]
    return as_sent_now(raw).encode()


def as_sent_now(raw: str) -> str:
    """A recorded answer as this pfdiag's probe would send it: each file the probe now sends in part
    (``Source.keep``: /proc/vmstat, /proc/meminfo) cut by the probe's own awk, run over the recorded lines."""
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for section in split_sections(raw):
            source = BY_PATH.get(section.args.partition(" ")[0])
            out.append(f"{MARKER}{section.kind} {section.args}".rstrip())
            if section.kind != "file" or source is None or not source.keep:
                out += section.lines
                continue
            copy = Path(tmp) / "file"
            copy.write_text("".join(line + "\n" for line in section.lines))
            out += sent_lines(source, copy)
    return "".join(line + "\n" for line in out)


def probe_interval(command: str) -> float | None:
    """The interval a probe command samples over; None for any other command.

    >>> from diag.probe import probe_command
    >>> probe_interval(probe_command(interval_s=1, top_n=5, perf=False))
    1.0
    >>> probe_interval("cat /proc/version") is None
    True
    """
    match = PROBE.search(command)
    return None if match is None else float(match.group(1))


async def _serve(socks: list[socket.socket], host_key: asyncssh.SSHKey, client_pub: str, raw: bytes) -> None:
    async def answer(process: asyncssh.SSHServerProcess[bytes]) -> None:
        interval = probe_interval(process.command or "")
        if interval is not None:
            await asyncio.sleep(interval)
        process.stdout.write(raw)
        process.exit(0)

    authorized = asyncssh.import_authorized_keys(client_pub + "\n")
    for sock in socks:
        await asyncssh.listen(
            sock=sock,
            server_factory=_Server,
            server_host_keys=[host_key],
            authorized_client_keys=authorized,
            process_factory=answer,
            encoding=None,
        )
    await asyncio.Event().wait()


def _write_files(folder: Path, socks: list[socket.socket], host_key: asyncssh.SSHKey) -> str:
    """inventory, known_hosts, client key, ssh_config; returns the client's public key line."""
    client = asyncssh.generate_private_key("ssh-ed25519")
    key_path = folder / "client_ed25519"
    client.write_private_key(str(key_path))
    key_path.chmod(0o600)
    public = host_key.export_public_key().decode().strip()
    known, inventory = [], ["[sim]"]
    for index, sock in enumerate(socks):
        address, port = sock.getsockname()[:2]
        known.append(f"[{address}]:{port} {public}")
        inventory.append(
            f"s{index + 1:05d} ansible_host={address} ansible_port={port} ansible_user={USER}"
            f" ansible_ssh_private_key_file={key_path}"
        )
    (folder / "known_hosts").write_text("\n".join(known) + "\n")
    (folder / "inventory").write_text("\n".join(inventory) + "\n")
    (folder / "ssh_config").write_text("")
    return client.export_public_key().decode().strip()


def sim_hosts(folder: Path) -> list[tuple[str, dict[str, str]]]:
    """The hosts of the ``inventory`` ``_write_files`` wrote in ``folder``: (name, host vars), in order."""
    rows = [
        line.split() for line in (folder / "inventory").read_text().splitlines() if "ansible_host=" in line
    ]
    return [(name, dict(word.split("=", 1) for word in words)) for name, *words in rows]


@contextlib.contextmanager
def running(
    hosts: int, procs: int = 2, env: dict[str, str] | None = None, repo: Path = REPO
) -> Iterator[tuple[Path, int]]:
    """``hosts`` simulated hosts in ``procs`` server processes started from ``repo`` (this checkout, or
    an older one whose hosts answer as its own probe did); yields their folder (inventory, known_hosts,
    ssh_config, client key) and the parent server's pid, stops them after."""
    env = env or {**os.environ, "PYTHONPATH": str(repo)}
    with tempfile.TemporaryDirectory(prefix="pfdiag-sim-") as tmp:
        argv = [sys.executable, "-m", "bench.simhosts", "--hosts", str(hosts), "--dir", tmp]
        server = subprocess.Popen([*argv, "--procs", str(procs)], env=env, cwd=repo, stdout=subprocess.PIPE)
        try:
            assert server.stdout is not None
            if server.stdout.readline().strip() != b"ready":
                raise SystemExit("simulated hosts did not start")
            yield Path(tmp), server.pid
        finally:
            server.terminate()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--run", default="quiet", help="recorded run under tests/data/runs (default quiet)")
    parser.add_argument("--procs", type=int, default=1, help="server processes sharing the hosts")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    args.dir.mkdir(parents=True, exist_ok=True)
    raw = _capture(args.run)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    socks = []
    for index in range(args.hosts):
        sock = socket.create_server((loopback_address(index), 0), backlog=1024)
        socks.append(sock)
    client_pub = _write_files(args.dir, socks, host_key)
    children = []
    for k in range(max(1, args.procs)):
        pid = os.fork()
        if pid == 0:  # a server process: its share of the listeners
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            asyncio.run(_serve(socks[k :: args.procs], host_key, client_pub, raw))
            os._exit(0)
        children.append(pid)
    for sock in socks:
        sock.close()
    print("ready", flush=True)

    def stop(signum: int, frame: object) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
