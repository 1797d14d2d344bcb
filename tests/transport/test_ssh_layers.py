"""Which SSH layer each ``ansible_connection`` opens: ssh (and smart) asyncssh on one event loop, paramiko
the Fabric fallback; both against the real loopback sshd fleet, host keys checked."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncssh
import pytest

from diag.shared.errors import TransportError
from diag.transport import open_transport
from diag.transport.ssh import ParamikoTransport
from diag.transport.sshasync import SSHTransport
from diag.transport.sshloop import event_loop
from diag.transport.sshoptions import ENCRYPTION_ALGS
from tests.fixtures.sshd_fleet import Fleet

pytestmark = pytest.mark.ssh


@contextlib.contextmanager
def _packet_log(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """asyncssh's lines logged in the block at debug level 3 (its per-packet lines included), in the
    list yielded once the block ends; the level is set back after."""
    lines: list[str] = []
    asyncssh.set_debug_level(3)
    try:
        with caplog.at_level(logging.DEBUG, logger="asyncssh"):
            yield lines
        lines += [r.getMessage() for r in caplog.records if r.name.startswith("asyncssh")]
    finally:
        asyncssh.set_debug_level(1)


@pytest.mark.parametrize("connection", ["ssh", "smart"])
def test_ssh_opens_the_asyncssh_transport_and_adds_no_thread_per_connection(
    ssh_fleet: Fleet, connection: str
) -> None:
    names = ssh_fleet.healthy[:4]
    transports = [
        open_transport(name, {**ssh_fleet.hosts[name], "ansible_connection": connection}, ssh_fleet.options)
        for name in names
    ]
    try:
        assert all(type(t) is SSHTransport for t in transports)
        transports[0].run("true", timeout_s=10)  # the loop thread, if it was not running yet
        before = threading.active_count()
        assert [t.run("echo $SSH_CONNECTION", timeout_s=10).ok for t in transports[1:]] == [True] * 3
        assert threading.active_count() == before  # paramiko adds a transport thread per connection
    finally:
        for t in transports:
            t.close()


class _CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A real thread pool that counts the calls handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.calls: list[str] = []

    def submit(
        self, fn: Callable[..., object], /, *args: object, **kwargs: object
    ) -> concurrent.futures.Future:
        self.calls.append(getattr(fn, "__qualname__", repr(fn)))
        return super().submit(fn, *args, **kwargs)


def test_asyncssh_logins_hand_no_work_to_an_executor_thread(ssh_fleet: Fleet) -> None:
    # asyncssh.connect builds its options in the loop's executor for every login (~0.4 ms of CPU and
    # two thread hand-offs a host); hosts sharing one configuration share one options object instead.
    counting = _CountingExecutor()
    event_loop().set_default_executor(counting)
    transports = [
        open_transport(name, ssh_fleet.hosts[name], ssh_fleet.options) for name in ssh_fleet.healthy[:4]
    ]
    try:
        assert [t.run("echo ok", timeout_s=10).stdout for t in transports] == ["ok\n"] * 4
        assert counting.calls == []
    finally:
        for t in transports:
            t.close()
        event_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor())
        counting.shutdown(wait=False)


def test_asyncssh_packet_debug_lines_are_still_logged_when_asked_for(
    ssh_fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    # pfdiag skips making asyncssh's per-packet lines while they cannot be logged; at debug level 3
    # with DEBUG on they appear, the connection's (key exchange, authentication) as the channel's.
    t = open_transport("h02", ssh_fleet.hosts["h02"], ssh_fleet.options)
    try:
        with _packet_log(caplog) as lines:
            assert t.run("true", timeout_s=10).ok
        assert any("Sent MSG_KEXINIT" in line for line in lines)
        assert any("Received MSG_USERAUTH_SUCCESS" in line for line in lines)
        assert any("Sent MSG_CHANNEL_OPEN" in line for line in lines)
    finally:
        t.close()


def test_asyncssh_sends_no_padding_ignore_packets_and_offers_no_cbc_cipher(
    ssh_fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    # asyncssh puts an empty MSG_IGNORE before each encrypted packet (a defence for CBC ciphers only);
    # pfdiag offers none, so a login and a command send none: the sshd still answers every request.
    assert not [alg for alg in ENCRYPTION_ALGS if alg.endswith("-cbc")]
    t = open_transport("h03", ssh_fleet.hosts["h03"], ssh_fleet.options)
    try:
        with _packet_log(caplog) as lines:
            assert t.run("echo ok", timeout_s=10).stdout == "ok\n"
            assert t.run("echo again", timeout_s=10).stdout == "again\n"  # a second session, same login
        sent = [line for line in lines if "Sent MSG_" in line]
        assert any("Sent MSG_CHANNEL_REQUEST" in line for line in sent)
        assert not [line for line in sent if "Sent MSG_IGNORE" in line]
    finally:
        t.close()


def test_paramiko_opens_the_fabric_transport_with_the_same_host_key_checks(ssh_fleet: Fleet) -> None:
    healthy = open_transport(
        "h01", {**ssh_fleet.hosts["h01"], "ansible_connection": "paramiko"}, ssh_fleet.options
    )
    try:
        assert isinstance(healthy, ParamikoTransport)
        assert healthy.run("id -un", timeout_s=10).stdout.strip() == ssh_fleet.user
    finally:
        healthy.close()
    unknown = open_transport(
        "unknown", {**ssh_fleet.hosts["unknown"], "ansible_connection": "paramiko"}, ssh_fleet.options
    )
    with pytest.raises(TransportError) as caught:
        unknown.run("true", timeout_s=10)
    assert caught.value.state == "hostkey-unknown"


def test_asyncssh_logs_in_with_one_signed_request_per_key_and_no_none_request(
    ssh_fleet: Fleet, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # asyncssh asks "none" first, then for each key whether the server would take it (MSG_USERAUTH_PK_OK)
    # before it signs; pfdiag sends the signed publickey request at once (RFC 4252, section 7). A key
    # the server refuses is followed by the next one: here a stranger's key, then the fleet's.
    keys = [ssh_fleet.stranger_key, ssh_fleet.client_key]
    options = ssh_fleet.alias_options(tmp_path / "ssh_config", "two-keys", "h05", keys)
    t = SSHTransport("two-keys", {}, options, become=False)
    try:
        with _packet_log(caplog) as lines:
            assert t.run("id -un", timeout_s=10).stdout.strip() == ssh_fleet.user
        requests = [line for line in lines if "Sent MSG_USERAUTH_REQUEST" in line]
        assert len(requests) == 2  # one signed request per key: the refused one, then the fleet's
        assert [line for line in lines if "Received MSG_USERAUTH_FAILURE" in line]
        assert [line for line in lines if "Received MSG_USERAUTH_SUCCESS" in line]
        assert not [line for line in lines if "PK_OK" in line]
    finally:
        t.close()


def test_asyncssh_signs_at_once_with_keys_held_by_a_real_ssh_agent(
    ssh_fleet: Fleet, caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent's keys come first (as in OpenSSH), each signed by the agent when it is offered: the
    # stranger's key is refused, the fleet's is taken, and no unsigned query is sent for either.
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {"SSH_AUTH_SOCK": str(socket_path), "PATH": "/usr/bin:/bin"}
        for key in (ssh_fleet.stranger_key, ssh_fleet.client_key):
            subprocess.run(["ssh-add", "-q", str(key)], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket_path))
        only_file = [ssh_fleet.stranger_key]  # named as a file: the stranger's; the fleet's is in the agent
        options = ssh_fleet.alias_options(tmp_path / "ssh_config", "via-agent", "h06", only_file)
        t = SSHTransport("via-agent", {}, options, become=False)
        try:
            with _packet_log(caplog) as lines:
                assert t.run("id -un", timeout_s=10).stdout.strip() == ssh_fleet.user
            assert len([line for line in lines if "Sent MSG_USERAUTH_REQUEST" in line]) == 2
            assert not [line for line in lines if "PK_OK" in line]
        finally:
            t.close()
    finally:
        agent.terminate()
        agent.wait(timeout=10)
