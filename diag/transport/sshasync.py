"""SSH transport over asyncssh (``ansible_connection: ssh``): a command string in, a ``CommandResult`` out.

Every host's connection, commands and streams run on the process's one event loop
(``diag.transport.sshloop``); the host's engine thread calls in and waits, so the engine is the same as
for Fabric. Only the wire is asyncssh's: who to log in as and where (``sshconfig``: ssh_config,
ProxyJump hops, ProxyCommand), which host keys are known and what an unknown one means (``hostkeys``:
known_hosts, strict / accept-new, hashed names), which keys to offer (``sshkeys``: parsed once,
certificates beside them), the remote wrapper (``sshexec``: watchdog, ``sudo -n``) and the error texts
(``sshfailures``) are pfdiag's own, shared with the Fabric transport (``ansible_connection: paramiko``).
The handshake's stages live in ``diag.transport.sshlogin``, the sessions in ``diag.transport.sshsessions``.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncssh

from diag.shared.errors import TransportError
from diag.transport.base import NO_DEADLINE, CommandResult, ConnectOptions, Deadline
from diag.transport.sshconfig import SSHHop, load_ssh_config, resolve_hops, resolve_target
from diag.transport.sshexec import remote_command
from diag.transport.sshfailures import CommandRun, command_result, stage_timeout
from diag.transport.sshlogin import Login, login
from diag.transport.sshloop import call, submit
from diag.transport.sshsessions import LoopStream, exec_session


class SSHTransport:
    """Runs commands on one host over one reused asyncssh connection (see the module docstring)."""

    local = False

    def __init__(
        self,
        host: str,
        hostvars: dict[str, object],
        options: ConnectOptions,
        *,
        become: bool,
        deadline: Deadline = NO_DEADLINE,
    ) -> None:
        self.host = host
        self._hostvars = hostvars
        self._options = options
        self._become = become
        self._deadline = deadline
        self._conns: list[asyncssh.SSHClientConnection] = []  # the ProxyJump hops first, the host last
        self._user = ""
        self._failure: TransportError | None = None  # a host that failed to connect fails fast after
        self.where = host  # "host (user@address:port)" once resolved

    def _stage(self, stage_s: float, what: str, state: str) -> float:
        return stage_timeout(self._deadline, stage_s, what, state, self.where)

    # -- connect ------------------------------------------------------------------------------
    def _connected(self) -> asyncssh.SSHClientConnection:
        if self._failure is not None:
            raise self._failure
        if self._conns and not self._conns[-1].is_closed():
            return self._conns[-1]
        self.close()
        try:
            target = resolve_target(self.host, self._hostvars, self._options)
            hops = resolve_hops(target, load_ssh_config(self._options.ssh_config))
            host = hops[-1]
            self.where = f"{self.host} ({host.user}@{host.address})"
            self._user = host.user
            self._conns = call(self._open(hops, target.key_files))
        except TransportError as exc:
            # A host that failed to connect fails fast afterwards: the engine may ask again, but a
            # second blackhole wait or auth attempt would tell nothing new.
            self._failure = exc
            raise
        return self._conns[-1]

    async def _open(
        self, hops: Sequence[SSHHop], explicit_keys: tuple[str, ...]
    ) -> list[asyncssh.SSHClientConnection]:
        """Log in to each hop in turn, each through the one before (host keys checked at every one)."""
        conns: list[asyncssh.SSHClientConnection] = []
        try:
            for hop in hops:
                through = conns[-1] if conns else None
                login_to = Login.prepare(hop, explicit_keys, self._options, self._deadline, self.where)
                conns.append(await login(login_to, through))
        except BaseException:
            await _close_all(conns)
            raise
        return conns

    # -- run ----------------------------------------------------------------------------------
    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        conn = self._connected()
        sudo = self._become and self._user != "root"
        run = CommandRun.start(command, timeout_s, self._deadline, sudo=sudo, where=self.where)
        session_s = self._stage(self._options.session_timeout_s, "opening a session", "unreachable")
        wrapped = remote_command(command, run.limit_s, sudo=sudo)
        try:
            output, remote_ended, ran = call(exec_session(conn, wrapped, session_s, run.wait_s, self.where))
        except TransportError:
            self.close()
            raise
        if run.dropped(output[2], ran):
            self.close()
        return command_result(run, output, ran=ran, remote_ended=remote_ended)

    def stream(self, command: str) -> LoopStream:
        """Start ``command`` on a channel that stays open (``pfdiag watch``: one login, many ticks)."""
        conn = self._connected()
        session_s = self._stage(self._options.session_timeout_s, "opening a session", "unreachable")
        return LoopStream.open(conn, command, session_s, self.where)

    def close(self) -> None:
        """Close the connection (and any ProxyJump hops), without waiting for the server to answer;
        the next ``run`` reconnects."""
        conns, self._conns = self._conns, []
        if conns:
            submit(_close_all(conns))


async def _close_all(conns: list[asyncssh.SSHClientConnection]) -> None:
    # abort: the socket closes, as paramiko's close does. A close() sends SSH_MSG_DISCONNECT first, on
    # which OpenSSH's privileged monitor exits before its session child: the child is orphaned and its
    # whole tree's CPU (the probe's) lands on the nearest subreaper (bench.fleet_compare counted it
    # as the controller's: 4.6 s against 2.6 for 20 hosts, the hosts' 2.4 s falling to 0.6).
    # Nothing waits for the sockets to close: abort() closes each on the loop's next turn, and no
    # caller needs to see it done (a gather of wait_closed was a task and a future a host).
    for conn in reversed(conns):
        conn.abort()
