"""The asyncssh login, on the process's one SSH loop: a hop's wire (TCP or ProxyCommand) and its stages.

In: a ``Login`` (one hop, prepared in the host's own thread: its known host keys, the keys to offer,
asyncssh's options for its configuration, ``sshoptions``)
and the connection to tunnel through for a ProxyJump hop. Out: an open ``SSHClientConnection``. Each
handshake stage has its own timeout under the host's ``Deadline`` (TCP connect, banner, then key
exchange and authentication), and every failure is the ``TransportError`` the Fabric transport raises
for it (``sshfailures``, ``hostkeys``). Coroutines here run on the loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import asyncssh
import paramiko

from diag.shared.errors import TransportError
from diag.transport.base import ConnectOptions, Deadline
from diag.transport.hostkeys import (
    HostKeyPolicy,
    UnknownHostKey,
    changed_key_error,
    host_key_name,
    known_keys,
    unknown_key_error,
)
from diag.transport.sshconfig import SSHHop, hop_files
from diag.transport.sshfailures import not_ssh, stage_timeout, unreachable
from diag.transport.sshkeys import loaded_keypair
from diag.transport.sshloop import login_slots
from diag.transport.sshoptions import client_options, host_options, open_connection

BANNER_BYTES = 4096  # what a peer sends before its SSH banner is kept for the message, up to this


@dataclass(frozen=True, slots=True)
class Login:
    """One hop's login, prepared outside the loop: files are read in the host's thread, not the loop's."""

    hop: SSHHop
    where: str
    options: ConnectOptions
    deadline: Deadline
    name: str  # the known_hosts name: [host]:port off port 22
    known: dict[str, paramiko.PKey]  # key type -> recorded key
    policy: HostKeyPolicy
    record_to: str
    shared: asyncssh.SSHClientConnectionOptions  # this configuration's (``sshoptions``): keys, agent, user
    unreadable: tuple[str, ...]  # configured key files that could not be loaded
    tried: str  # the keys offered, for messages

    @classmethod
    def prepare(
        cls,
        hop: SSHHop,
        explicit_keys: tuple[str, ...],
        options: ConnectOptions,
        deadline: Deadline,
        where: str,
    ) -> Login:
        files = hop_files(hop.entry, explicit_keys, options)
        policy = HostKeyPolicy(
            options.host_key_policy,
            files_read=files.read_files,
            record_to=files.record_to,
            hashed=files.hashed,
        )
        name = host_key_name(hop.hostname, hop.port)
        known = known_keys(name, files.read_files)
        loaded = {path: loaded_keypair(path) for path in files.key_files}
        client_keys = None if files.default_keys else tuple(k for k in loaded.values() if k is not None)
        return cls(
            hop=hop,
            where=where,
            options=options,
            deadline=deadline,
            name=name,
            known=known,
            policy=policy,
            record_to=files.record_to,
            shared=client_options(hop.user, client_keys, agent=files.agent, known=known),
            unreadable=tuple(p for p, k in loaded.items() if k is None and os.path.exists(p)),
            tried=", ".join(files.key_files) or ("~/.ssh/id_*" if files.default_keys else "no key"),
        )


class _Client(asyncssh.SSHClient):
    """Checks the server's host key the way the Fabric transport does: the recorded key passes, a key
    of a recorded type that is not the recorded one is a changed key, a key of a new type goes to the
    policy. asyncssh trusts no key itself here (``sshoptions``): every key comes to this check."""

    def __init__(self, login: Login) -> None:
        self.login = login
        self.error: Exception | None = None
        self.conn: asyncssh.SSHClientConnection | None = None
        self.wire: _Wire | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self.wire is not None:
            self.wire.kill_proxy()

    def banner_seen(self) -> bool:
        return self.conn is not None and bool(self.conn.get_extra_info("server_version"))

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        recorded = self.login.known.get(key.get_algorithm())
        if recorded is not None and recorded.asbytes() == key.public_data:
            return True
        offered = paramiko.PKey.from_type_string(key.get_algorithm(), key.public_data)
        expected = self.login.known.get(offered.get_name())
        try:
            if expected is not None:  # a key of the recorded type, and not the recorded one
                raise paramiko.BadHostKeyException(self.login.name, offered, expected)
            self.login.policy.unknown_key(self.login.name, offered)
        except (paramiko.SSHException, OSError) as exc:
            self.error = exc
            return False
        return True


class _Recorder(asyncio.Protocol):
    """Stands in for asyncssh's connection until the SSH banner: keeps what the peer sent before it
    (for "not an SSH server: it sent ..."), then steps out of the data path."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.inner: asyncio.Protocol | None = None
        self.head = b""
        self.early: list[bytes] = []
        self.eof = False
        self.lost: tuple[Exception | None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def attach(self, inner: asyncio.Protocol) -> None:
        """Hand the connection to asyncssh, with whatever arrived before it was made."""
        assert self.transport is not None
        self.inner = inner
        inner.connection_made(self.transport)
        for data in self.early:
            self.data_received(data)
        if self.eof:
            self.eof_received()
        if self.lost is not None:
            inner.connection_lost(self.lost[0])

    def lines(self) -> list[str]:
        return [line for line in self.head.decode("utf-8", "replace").splitlines() if line.strip()][:5]

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            self.early.append(data)
            return
        self.head += data[: max(0, BANNER_BYTES - len(self.head))]
        if b"SSH-" in self.head and self.transport is not None:
            self.transport.set_protocol(self.inner)  # the banner came: asyncssh reads on its own
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        self.eof = True
        return self.inner.eof_received() if self.inner is not None else True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is None:
            self.lost = (exc,)
        else:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class _Wire:
    """The tunnel a login runs over (``sshoptions.open_connection``, as asyncssh's ``tunnel=`` hook): a
    TCP connection opened (and timed) here, with a ``_Recorder``; for a ProxyCommand, a socket pair
    whose other end is the command's stdin and stdout."""

    def __init__(
        self, transport: asyncio.Transport, recorder: _Recorder, proxy: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.transport = transport
        self.recorder = recorder
        self.proxy = proxy

    def kill_proxy(self) -> None:
        """End the ProxyCommand and whatever it started (its own session), and reap it: no orphan."""
        if self.proxy is not None and self.proxy.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proxy.pid, signal.SIGKILL)
            self.proxy.wait()

    async def create_connection(
        self, session_factory: Callable[[], asyncssh.SSHClientConnection], remote_host: str, remote_port: int
    ) -> tuple[object, asyncssh.SSHClientConnection]:
        inner = session_factory()
        self.recorder.attach(inner)
        return self.transport, inner


async def _proxy_command(login: Login) -> _Wire:
    """The hop's ProxyCommand, started with a socket pair for its stdin and stdout (the way paramiko's
    ProxyCommand runs it: the words as given, no shell). It runs in its own session so that
    ``kill_proxy`` ends all of it; its stderr is not read (ssh leaves it on the terminal)."""
    hop = login.hop
    ours, theirs = socket.socketpair()
    try:
        proxy = subprocess.Popen(
            hop.proxy_command,
            stdin=theirs.fileno(),
            stdout=theirs.fileno(),
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        ours.close()
        raise TransportError(
            f"ProxyCommand {shlex.join(hop.proxy_command)!r} for {hop.address} cannot start:"
            f" {exc.strerror or exc}",
            state="unreachable",
            where=login.where,
            hint="check the ProxyCommand in ssh_config (it runs without a shell: wrap pipes in sh -c '...')",
        ) from None
    finally:
        theirs.close()
    transport, recorder = await asyncio.get_running_loop().create_connection(_Recorder, sock=ours)
    return _Wire(transport, recorder, proxy)


async def _tcp(login: Login) -> _Wire:
    """The TCP connection to a hop reached directly, within its connect timeout."""
    hop = login.hop
    if hop.proxy_command:
        return await _proxy_command(login)
    connect_s = stage_timeout(
        login.deadline,
        login.options.connect_timeout_s,
        f"connecting to {hop.address}",
        "unreachable",
        login.where,
    )
    try:
        async with asyncio.timeout(connect_s):
            transport, recorder = await asyncio.get_running_loop().create_connection(
                _Recorder, hop.hostname, hop.port
            )
    except TimeoutError:
        raise unreachable(login.where, hop.address, "TCP connect", TimeoutError(), login.options) from None
    except OSError as exc:  # asyncio says "Connect call failed (...)": name the errno as socket does
        errno = None if isinstance(exc, socket.gaierror) else exc.errno
        cause = exc if errno is None else OSError(errno, os.strerror(errno))
        raise unreachable(login.where, hop.address, "TCP connect", cause, login.options) from None
    return _Wire(transport, recorder)


async def login(login: Login, through: asyncssh.SSHClientConnection | None) -> asyncssh.SSHClientConnection:
    """Log in to one hop (through ``through``, the hop before it, for ProxyJump), stage by stage; a
    ProxyCommand started for it is ended (and reaped) when the login fails or the connection closes."""
    wire = await _tcp(login) if through is None else None
    try:
        async with login_slots():
            return await _handshake(login, through, wire)
    except BaseException:
        if wire is not None:
            wire.transport.abort()
            wire.kill_proxy()
        raise


async def _handshake(
    login: Login, through: asyncssh.SSHClientConnection | None, wire: _Wire | None
) -> asyncssh.SSHClientConnection:
    """The login within its stages' timeouts: the banner's, then, for a peer that sent its banner, the
    authentication's on top (both within the host deadline)."""
    opts, hop, where = login.options, login.hop, login.where
    client = _Client(login)
    client.wire = wire
    options = host_options(login.shared, hop.hostname, hop.port, lambda: client)
    tunnel = wire if wire is not None else through
    assert tunnel is not None  # a hop is reached directly (wire) or through the one before it
    banner_s = stage_timeout(
        login.deadline, opts.banner_timeout_s, f"the handshake with {hop.address}", "unreachable", where
    )
    loop = asyncio.get_running_loop()
    stage = asyncio.timeout(None)  # one scope for both stages: no task or wait() of their own

    def banner_due() -> None:
        more = min(opts.auth_timeout_s, login.deadline.remaining_s()) if client.banner_seen() else 0.0
        stage.reschedule(loop.time() + max(0.0, more))

    due = loop.call_later(banner_s, banner_due)
    try:
        async with stage:
            return await open_connection(options, tunnel)
    except Exception as exc:
        if not stage.expired():
            if wire is not None and not client.banner_seen() and not isinstance(exc, TransportError):
                exc = not_ssh(wire.recorder.lines())
            raise _login_error(login, client, exc) from None
    finally:
        due.cancel()
    raise _timed_out(login, client)


def _timed_out(login: Login, client: _Client) -> TransportError:
    """The TransportError for a login cut by its stage's timeout (or the host deadline)."""
    opts, hop, where = login.options, login.hop, login.where
    if login.deadline.remaining_s() <= 0:
        cause = TimeoutError(f"host deadline of {login.deadline.budget_s:g} s exceeded")
        return unreachable(where, hop.address, "SSH handshake", cause, opts)
    if not client.banner_seen():
        silent = TimeoutError(f"no SSH banner/handshake within {opts.banner_timeout_s:g} s")
        return unreachable(where, hop.address, "SSH handshake", silent, opts)
    stalled = TimeoutError(f"no answer within {opts.auth_timeout_s:g} s (the peer stalled)")
    return unreachable(where, hop.address, "SSH authentication", stalled, opts)


def _login_error(login: Login, client: _Client, exc: BaseException) -> TransportError:
    """The TransportError for a failed login: host key, auth, or unreachable."""
    hop, where = login.hop, login.where
    if isinstance(exc, TransportError):
        return exc
    if isinstance(client.error, UnknownHostKey):
        return unknown_key_error(client.error, where, hop.hostname, hop.port, login.record_to)
    if isinstance(client.error, paramiko.BadHostKeyException):
        return changed_key_error(client.error, where, login.name)
    if client.error is not None:
        exc = client.error
    if isinstance(exc, asyncssh.PermissionDenied):
        unread = (
            f"; could not load {', '.join(login.unreadable)} (encrypted, or not a private key)"
            if login.unreadable
            else ""
        )
        return TransportError(
            f"authentication as {hop.user} at {hop.address} failed: {exc.reason}"
            f" (keys tried: {login.tried}{unread})",
            state="auth-failed",
            where=where,
            hint="check ansible_user / -u and ansible_ssh_private_key_file / --private-key,"
            " and that the public key is in the remote authorized_keys",
        )
    if isinstance(exc, asyncssh.ChannelOpenError):  # the jump host could not reach this hop
        return unreachable(where, hop.address, "TCP connect", exc, login.options)
    return unreachable(where, hop.address, "SSH handshake", exc, login.options)
