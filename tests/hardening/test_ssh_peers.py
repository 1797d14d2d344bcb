"""Odd SSH peers and deadlines against real loopback listeners and the real sshd fleet (issue 8, sections
4 and 6): a peer that speaks HTTP or hangs up says what it did, a host deadline ends a stalled command at
the deadline and says so, output beyond the cap is cut and said, and SIGTERM does not wait for a host
stalled after its banner.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from diag.shared.errors import TransportError
from diag.shared.limits import MAX_OUTPUT_BYTES
from diag.transport import Deadline
from diag.transport.sshasync import SSHTransport
from tests.fixtures.ssh_argv import ssh_options
from tests.fixtures.sshd_fleet import Fleet, loopback_address

pytestmark = pytest.mark.ssh
REPO = Path(__file__).resolve().parents[2]


class Peer:
    """A loopback TCP listener that answers each connection with ``reply`` (after reading a line when
    ``read_first``) and then hangs up, or stays silent when ``hang``."""

    def __init__(self, reply: bytes, *, read_first: bool = True, hang: bool = False) -> None:
        self.sock = socket.create_server((loopback_address(200), 0))
        self.address, self.port = self.sock.getsockname()[:2]
        self.reply, self.read_first, self.hang = reply, read_first, hang
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
                if self.read_first:
                    conn.recv(256)
                conn.sendall(self.reply)
                if not self.hang:
                    conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture
def peer(request):
    made: list[Peer] = []

    def make(*args, **kwargs) -> Peer:
        made.append(Peer(*args, **kwargs))
        return made[-1]

    yield make
    for p in made:
        p.close()


def _transport(fleet: Fleet, peer: Peer, deadline: Deadline | None = None, **options) -> SSHTransport:
    hostvars = {"ansible_host": peer.address, "ansible_port": peer.port, "ansible_user": fleet.user}
    options = replace(fleet.options, **options)
    if deadline is None:
        return SSHTransport("odd", hostvars, options, become=False)
    return SSHTransport("odd", hostvars, options, become=False, deadline=deadline)


def test_a_peer_that_speaks_http_is_named_as_such(ssh_fleet, peer):
    http = peer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(TransportError) as caught:
        _transport(ssh_fleet, http).run("true", timeout_s=5)
    assert caught.value.state == "unreachable"
    assert (
        "not an SSH server (an HTTP server?)" in caught.value.message
        and "HTTP/1.1 400" in caught.value.message
    )


def test_a_peer_that_hangs_up_at_once_says_so_not_banner_timeout(ssh_fleet, peer):
    rude = peer(b"", read_first=False)
    with pytest.raises(TransportError) as caught:
        _transport(ssh_fleet, rude).run("true", timeout_s=5)
    assert "closed the connection without sending an SSH banner" in caught.value.message


def test_host_deadline_ends_a_stalled_command_at_the_deadline_and_says_which(ssh_fleet):
    t = SSHTransport(
        "h01", ssh_fleet.hosts["h01"], ssh_fleet.options, become=False, deadline=Deadline.after(5.0)
    )
    try:
        started = time.monotonic()
        assert t.run("true", timeout_s=30).ok
        # what the engine asks for: the task's timeout already cut to what is left of the deadline
        left = 5.0 - (time.monotonic() - started)
        with pytest.raises(TransportError) as caught:
            t.run("sleep 60", timeout_s=left)
        elapsed = time.monotonic() - started
    finally:
        t.close()
    assert caught.value.state == "timeout" and "host deadline of 5 s" in caught.value.message
    assert elapsed < 5.0 + 2.5  # was 7.7 s, and the message said "timed out after 4.51 s"


def test_output_beyond_the_cap_is_cut_and_said(ssh_fleet):
    t = SSHTransport("h02", ssh_fleet.hosts["h02"], ssh_fleet.options, become=False)
    size = MAX_OUTPUT_BYTES + 1_000_000
    try:
        result = t.run(f"head -c {size} /dev/zero | tr '\\0' e >&2; echo done", timeout_s=60)
    finally:
        t.close()
    assert result.stdout == "done\n" and result.exit_code == 0
    assert len(result.stderr) < MAX_OUTPUT_BYTES + 200
    assert f"output cut at {MAX_OUTPUT_BYTES:,} of {size:,} bytes" in result.stderr
    assert len(result.stderr_tail()) <= 2003


def test_local_output_beyond_the_cap_is_cut_and_said():
    from diag.transport.local import LocalTransport

    size = MAX_OUTPUT_BYTES + 1_000_000
    result = LocalTransport().run(f"head -c {size} /dev/zero | tr '\\0' o; echo err >&2", timeout_s=60)
    assert result.exit_code == 0 and result.stderr == "err\n"
    assert len(result.stdout) < MAX_OUTPUT_BYTES + 200
    assert f"output cut at {MAX_OUTPUT_BYTES:,} of {size:,} bytes" in result.stdout


def test_sigterm_does_not_wait_for_a_host_stalled_after_its_banner(ssh_fleet, peer, tmp_path):
    stall = peer(b"SSH-2.0-OpenSSH_9.6\r\n", read_first=False, hang=True)
    (tmp_path / "inv.ini").write_text(
        f"stalled ansible_host={stall.address} ansible_port={stall.port} ansible_user={ssh_fleet.user}\n"
    )
    (tmp_path / "pb.yml").write_text("- hosts: all\n  tasks:\n    - command: 'true'\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "diag", "run", "pb.yml", "-i", "inv.ini", "-o", "run", "-T", "60"]
    argv += ssh_options(ssh_fleet)
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not stall.conns:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)  # polling for the controller's connection
    time.sleep(0.5)  # it has sent its banner and waits for the key exchange
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=45)
    assert proc.returncode == 99
    assert time.monotonic() - signalled < 20  # the handshake's own timeout is 60 s
    saved = json.loads((tmp_path / "run" / "hosts.jsonl").read_text())
    assert saved["result"]["status"] == "interrupted"


def test_a_handshake_stalled_after_the_banner_is_cut_at_the_host_deadline(ssh_fleet, peer):
    stall = peer(b"SSH-2.0-OpenSSH_9.6\r\n", read_first=False, hang=True)
    # banner + auth timeouts (10 + 10 s) outlast the 2 s deadline: only the cutter ends the handshake
    t = _transport(ssh_fleet, stall, Deadline.after(2.0), banner_timeout_s=10.0, auth_timeout_s=10.0)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        t.run("true", timeout_s=10)
    assert 1.5 < time.monotonic() - started < 8  # the 2 s deadline, not the 10 s banner timeout
    assert caught.value.state == "unreachable" and "host deadline of 2 s exceeded" in caught.value.message


def test_a_handshake_stalled_after_the_banner_gets_the_auth_timeout_on_top_of_the_banner_timeout(
    ssh_fleet, peer
):
    stall = peer(b"SSH-2.0-OpenSSH_9.6\r\n", read_first=False, hang=True)
    t = _transport(ssh_fleet, stall, Deadline.after(30.0), banner_timeout_s=1.0, auth_timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        t.run("true", timeout_s=10)
    assert 2.5 < time.monotonic() - started < 10  # the banner's 1 s, then the authentication's 2 s
    assert caught.value.state == "unreachable"
    assert "SSH authentication to" in caught.value.message
    assert "no answer within 2 s (the peer stalled)" in caught.value.message
