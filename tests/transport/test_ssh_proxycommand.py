"""ssh_config ``ProxyCommand`` on both SSH transports, against the real loopback sshd fleet: the command
(a python3 relay from its stdin/stdout to %h:%p) carries the login, the final host's key is still
checked, the host deadline cuts a command that hangs and no proxy process outlives its connection;
ProxyJump and ProxyCommand together resolve as OpenSSH does (the first one given wins)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import paramiko
import pytest

from diag.shared.errors import TransportError
from diag.transport import open_transport
from diag.transport.base import ConnectOptions, Deadline
from diag.transport.sshconfig import SSHTarget, resolve_hops
from tests.fixtures.sshd_fleet import Fleet

pytestmark = pytest.mark.ssh

RELAY = """\
import os, socket, sys, threading
open(sys.argv[3], "w").write(str(os.getpid()))
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def up():
    while data := os.read(0, 65536):
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while data := s.recv(65536):
    os.write(1, data)
"""
HANG = "import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(600)\n"


def _alive(pid: int) -> bool:
    """Whether ``pid`` still exists (a zombie counts: it was not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone(pid: int, within_s: float = 5.0) -> bool:
    end = time.monotonic() + within_s
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    return not _alive(pid)


def _config(fleet: Fleet, tmp_path: Path, name: str, proxy: str) -> ConnectOptions:
    """An ssh_config whose Host ``behind`` reaches fleet host ``name`` through ``proxy``."""
    target = fleet.hosts[name]
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host behind\n  Hostname {target['ansible_host']}\n  Port {target['ansible_port']}\n"
        f"  ProxyCommand {proxy}\n"
        f"Host *\n  User {fleet.user}\n  IdentityFile {fleet.client_key}\n"
    )
    return replace(fleet.options, ssh_config=str(config))


def _relay(tmp_path: Path) -> tuple[str, Path]:
    script, pidfile = tmp_path / "relay.py", tmp_path / "relay.pid"
    script.write_text(RELAY)
    return f"{sys.executable} {script} %h %p {pidfile}", pidfile


@pytest.mark.parametrize("connection", ["ssh", "paramiko"])
def test_a_proxycommand_carries_the_login_and_ends_with_the_connection(
    ssh_fleet: Fleet, tmp_path: Path, connection: str
) -> None:
    proxy, pidfile = _relay(tmp_path)
    options = _config(ssh_fleet, tmp_path, "h05", proxy)
    t = open_transport("behind", {"ansible_connection": connection}, options, Deadline.after(30.0))
    try:
        result = t.run("id -un; echo $SSH_CONNECTION", timeout_s=10)
        assert result.ok and result.stdout.split()[0] == ssh_fleet.user
        assert result.stdout.split()[1] == "127.0.0.1"  # the relay's connection, not a direct one
        pid = int(pidfile.read_text())  # the relay really ran, with %h %p expanded
        assert _alive(pid)
    finally:
        t.close()
    assert _gone(pid)


@pytest.mark.parametrize("connection", ["ssh", "paramiko"])
def test_a_proxycommand_given_before_a_proxyjump_wins_on_both_transports(
    ssh_fleet: Fleet, tmp_path: Path, connection: str
) -> None:
    proxy, pidfile = _relay(tmp_path)
    # a jump to a closed port: taking it would fail the login (Fabric took ProxyJump whatever the order)
    options = _config(ssh_fleet, tmp_path, "h05", f"{proxy}\n  ProxyJump {ssh_fleet.user}@127.0.0.1:1")
    t = open_transport("behind", {"ansible_connection": connection}, options, Deadline.after(30.0))
    try:
        assert t.run("id -un", timeout_s=10).stdout.strip() == ssh_fleet.user
        assert pidfile.exists()
    finally:
        t.close()


@pytest.mark.parametrize("connection", ["ssh", "paramiko"])
def test_a_proxycommand_to_a_host_with_an_unknown_key_is_refused(
    ssh_fleet: Fleet, tmp_path: Path, connection: str
) -> None:
    proxy, pidfile = _relay(tmp_path)
    options = _config(ssh_fleet, tmp_path, "unknown", proxy)
    t = open_transport("behind", {"ansible_connection": connection}, options, Deadline.after(30.0))
    with pytest.raises(TransportError) as caught:
        t.run("true", timeout_s=10)
    assert caught.value.state == "hostkey-unknown"
    unknown = ssh_fleet.hosts["unknown"]
    assert f"[{unknown['ansible_host']}]:{unknown['ansible_port']}" in caught.value.message
    assert _gone(int(pidfile.read_text()))


@pytest.mark.parametrize("connection", ["ssh", "paramiko"])
def test_a_proxycommand_that_hangs_is_cut_at_the_host_deadline_and_killed(
    ssh_fleet: Fleet, tmp_path: Path, connection: str
) -> None:
    script, pidfile = tmp_path / "hang.py", tmp_path / "hang.pid"
    script.write_text(HANG)
    options = replace(
        _config(ssh_fleet, tmp_path, "h05", f"{sys.executable} {script} {pidfile}"), banner_timeout_s=60.0
    )
    t = open_transport("behind", {"ansible_connection": connection}, options, Deadline.after(2.0))
    with pytest.raises(TransportError) as caught:
        t.run("true", timeout_s=30)
    assert caught.value.state == "unreachable" and "host deadline of 2 s" in caught.value.message
    assert _gone(int(pidfile.read_text()))


def test_a_proxycommand_that_cannot_start_says_which(ssh_fleet: Fleet, tmp_path: Path) -> None:
    options = _config(ssh_fleet, tmp_path, "h05", "/nonexistent/proxy %h %p")
    with pytest.raises(TransportError) as caught:
        open_transport("behind", {}, options, Deadline.after(30.0)).run("true", timeout_s=10)
    assert caught.value.state == "unreachable"
    assert caught.value.message.startswith("ProxyCommand '/nonexistent/proxy 127.0.0.")
    assert "cannot start: No such file or directory" in caught.value.message


@pytest.mark.parametrize(
    ("settings", "jumps", "command"),
    [
        ("ProxyCommand nc %h %p\n  ProxyJump bastion", [], ("nc", "10.0.0.5", "2200")),
        ("ProxyJump ops@bastion\n  ProxyCommand nc %h %p", ["bastion"], ()),
        ("ProxyCommand none\n  ProxyJump bastion", [], ()),
        ("ProxyJump none\n  ProxyCommand nc %h %p", [], ()),
        ("ProxyCommand 'my proxy' -p %p %r", [], ("my proxy", "-p", "2200", "dba")),
    ],
)
def test_proxyjump_and_proxycommand_the_first_one_given_wins(
    settings: str, jumps: list[str], command: tuple[str, ...]
) -> None:
    config = paramiko.SSHConfig.from_text(
        f"Host db\n  HostName 10.0.0.5\n  Port 2200\n  User dba\n  {settings}\n"
    )
    hops = resolve_hops(SSHTarget("db", "db", None, None, ()), config)
    assert [h.hostname for h in hops[:-1]] == jumps
    assert (hops[-1].hostname, hops[-1].proxy_command) == ("10.0.0.5", command)
