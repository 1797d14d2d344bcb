"""SSH transport over Fabric (``ansible_connection: paramiko``): a command string in, a ``CommandResult`` out.

The fallback: ``ansible_connection: ssh`` (and ``smart``, the default) opens ``SSHTransport``, the
asyncssh transport of ``diag.transport.sshasync``, which keeps every behaviour below at ~20% less
controller CPU per host and no thread per connection (bench/README.md, issue 19).
This module's own class is ``ParamikoTransport``.

One connection per host, opened at the first ``run`` and reused. Fabric resolves ``ssh_config``
(HostName, Port, User, IdentityFile, ProxyJump, ProxyCommand: the first of the last two given wins, and
a ProxyCommand is killed and reaped with its connection); everything Fabric leaves open by default is closed
here: host keys are verified against known_hosts (``diag.transport.hostkeys``), every stage has a
timeout (TCP, banner, auth, session, command) under the host's deadline (the engine's ``Deadline``),
and a command that times out is killed on the remote side by a watchdog in the wrapper.
Failures raise ``TransportError`` with ``state`` unreachable, auth-failed, hostkey-unknown,
hostkey-changed, timeout or failed. Fabric is imported in this module only.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import time

import paramiko
from fabric import Config, Connection

from diag.shared.errors import TransportError
from diag.transport.base import NO_DEADLINE, CommandResult, ConnectOptions, Deadline
from diag.transport.cutter import CUTTER
from diag.transport.hostkeys import (
    HostKeyPolicy,
    UnknownHostKey,
    changed_key_error,
    host_key_name,
    known_keys,
    unknown_key_error,
)
from diag.transport.sshconfig import (
    agent_allowed,
    hash_known_hosts,
    identity_files,
    known_hosts_files,
    proxy_setting,
    resolve_target,
)
from diag.transport.sshexec import ChannelStream, collect, remote_command
from diag.transport.sshfailures import CommandRun, command_result, not_ssh, stage_timeout, unreachable
from diag.transport.sshkeys import loaded_key

# paramiko logs handshake failures with tracebacks from its own thread; the TransportError we raise
# says it all, so keep them off stderr unless the application configures logging.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

# One Fabric Config per ssh_config file, shared by every host: building a Config loads invoke's
# config files and parses ssh_config, which costs more than a whole loopback connect.
_configs: dict[tuple[str | None, int, int], Config] = {}
_configs_lock = threading.Lock()

# Fabric's Connection() writes ``inline_ssh_env`` into the shared Config (``_Connection`` no longer
# does), and every such write re-merges the Config from scratch (``_config = {}``, then refilled): a
# host reading it meanwhile sees no keys at all ("No attribute or config key found for 'gateway'").
# ProxyJump hops are plain Connections, so they are still built one at a time.
_connection_lock = threading.Lock()


class _Connection(Connection):
    """Fabric's Connection at a third of the cost (1.1 -> 0.4 ms per host, measured).

    invoke's ``DataProxy.__setattr__`` decides whether an assignment is a real attribute or a config
    key by ``key in dir(self)``, a sorted list of ~200 names built for each of the ~12 assignments in
    ``Connection.__init__``; here the same question is asked of the instance dict and of a set built
    once per class. ``inline_ssh_env`` is declared as an attribute, so building a Connection no
    longer writes into (and re-merges) the Config every host shares.
    """

    inline_ssh_env = None

    def __setattr__(self, key: str, value: object) -> None:
        if key in self.__dict__ or key in _CONNECTION_ATTRIBUTES:
            object.__setattr__(self, key, value)
        else:
            self[key] = value


_CONNECTION_ATTRIBUTES = frozenset(dir(_Connection))


# paramiko's transport thread reads its socket with a 0.1 s timeout only to notice a close; a host
# waiting out a 5 s interval woke it 50 times, ~0.1 ms of GIL-contended CPU each. After the handshake
# the timeout is raised to this; close() shuts the socket down first, which ends that read at once.
IDLE_READ_TIMEOUT_S = 10.0


def _fabric_config(path: str | None) -> Config:
    """Fabric's Config reading ``path`` only (like ``ssh -F``), or ~/.ssh/config + /etc/ssh/ssh_config."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        raise TransportError(
            f"ssh_config file {path} cannot be read", state="failed", hint="check --ssh-config"
        ) from None
    key = (path, st.st_mtime_ns, st.st_size) if st else (None, 0, 0)
    with _configs_lock:
        config = _configs.get(key)
        if config is None:
            try:
                config = Config(runtime_ssh_path=path) if path else Config()
            except (OSError, ValueError, paramiko.SSHException) as exc:
                raise TransportError(
                    f"cannot load ssh_config {path or '~/.ssh/config'}: {exc}", state="failed"
                ) from None
            _configs[key] = config
        return config


class ParamikoTransport:
    """Runs commands on one host over one reused Fabric/paramiko connection (see the module docstring)."""

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
        self._conn: Connection | None = None
        self._proxies: list[_ProxyCommand] = []  # ssh_config ProxyCommands started, to reap
        self._deadline = deadline
        self._failure: TransportError | None = None  # a host that failed to connect fails fast after
        self.where = host  # "host (user@address:port)" once resolved

    # -- deadline -----------------------------------------------------------------------------
    def _remaining(self) -> float:
        return self._deadline.remaining_s()

    def _stage(self, stage_s: float, what: str, state: str) -> float:
        """A stage's timeout, cut to what is left of the host deadline."""
        return stage_timeout(self._deadline, stage_s, what, state, self.where)

    # -- connect ------------------------------------------------------------------------------
    def _connected(self) -> Connection:
        if self._failure is not None:
            raise self._failure
        if self._conn is not None and self._conn.transport is not None and self._conn.transport.is_active():
            return self._conn
        self.close()
        conn: Connection | None = None
        try:
            target = resolve_target(self.host, self._hostvars, self._options)
            try:
                # A non-empty connect_kwargs: else Fabric writes key_filename into the shared Config.
                config = _fabric_config(self._options.ssh_config)
                with _connection_lock:
                    conn = _Connection(
                        target.lookup_name,
                        user=target.user,
                        port=target.port,
                        config=config,
                        connect_kwargs={"look_for_keys": False},
                    )
                # Fabric prefers ProxyJump whatever the order and jumps to a host named "none";
                # OpenSSH takes the first one given, none included.
                jumps, command = proxy_setting(conn.ssh_config)
                if jumps is None:
                    conn.gateway = str(conn.ssh_config["proxycommand"]) if command else None
            except (ValueError, paramiko.SSHException) as exc:  # e.g. Port or ProxyJump that does not parse
                raise TransportError(
                    f"ssh_config settings for {target.lookup_name} are invalid: {exc}",
                    state="failed",
                    where=self.host,
                    hint="check the Host entry in the ssh_config file",
                ) from None
            self.where = f"{self.host} ({conn.user}@{conn.host}:{conn.port})"
            self._open(conn, target.key_files)
        except TransportError as exc:
            # A host that failed to connect fails fast afterwards: the engine may ask again, but a
            # second blackhole wait or auth attempt would tell nothing new.
            self._failure = exc
            if conn is not None:
                conn.close()
            self._end_proxies()
            raise
        self._conn = conn
        return conn

    def _open(self, conn: Connection, explicit_keys: tuple[str, ...]) -> None:
        """Connect ``conn`` (ProxyJump hops first), verify its host key, log in; sets ``conn.transport``."""
        opts = self._options
        address = f"{conn.host}:{conn.port}"
        sock: socket.socket | paramiko.Channel | paramiko.ProxyCommand
        gateway = conn.gateway
        try:
            if isinstance(gateway, Connection):
                self._open(gateway, explicit_keys)
                sock = gateway.transport.open_channel(
                    "direct-tcpip",
                    (conn.host, int(conn.port)),
                    ("", 0),
                    timeout=self._stage(opts.connect_timeout_s, f"jumping to {address}", "unreachable"),
                )
            elif isinstance(gateway, str):
                sock = _ProxyCommand(gateway)
                self._proxies.append(sock)
            else:
                sock = socket.create_connection(
                    (conn.host, int(conn.port)),
                    timeout=self._stage(opts.connect_timeout_s, f"connecting to {address}", "unreachable"),
                )
                # paramiko sends each SSH message as separate small writes; without NODELAY, Nagle plus
                # delayed ACKs stall every round trip by ~40 ms (auth, channel open, exec).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TransportError:
            raise
        except (OSError, paramiko.SSHException) as exc:
            raise self._unreachable(address, "TCP connect", exc) from None

        entry = conn.ssh_config
        read_files, record_to = known_hosts_files(entry, opts)
        name = host_key_name(conn.host, int(conn.port))
        client = conn.client
        # Fabric installed AutoAddPolicy (accept anything); ours refuses or records, never prompts.
        policy = HostKeyPolicy(
            opts.host_key_policy, files_read=read_files, record_to=record_to, hashed=hash_known_hosts(entry)
        )
        client.set_missing_host_key_policy(policy)
        known = known_keys(name, read_files)
        for key_type, key in known.items():
            client.get_host_keys().add(name, key_type, key)
        key_files, default_keys = identity_files(explicit_keys, entry)
        tried = ", ".join(key_files) or ("~/.ssh/id_*" if default_keys else "no key")
        first_key = loaded_key(key_files[0]) if key_files else None  # offered first, as key_filename[0] was
        # paramiko takes every stage's timeout up front, so banner + auth could outlast the deadline
        # together; the cutter then cuts the socket. Only armed when that can happen.
        left = self._stage(opts.banner_timeout_s, f"the handshake with {address}", "unreachable")
        guard = None
        if opts.banner_timeout_s + opts.auth_timeout_s > self._remaining():
            guard = CUTTER.arm(time.monotonic() + self._remaining(), functools.partial(_cut, sock))
        banner = _BannerLines.attach(client)
        started = time.monotonic()
        try:
            client.connect(
                hostname=conn.host,
                port=int(conn.port),
                username=conn.user,
                sock=sock,
                timeout=min(opts.banner_timeout_s, left),  # the whole key exchange
                banner_timeout=min(opts.banner_timeout_s, left),
                auth_timeout=min(opts.auth_timeout_s, left),
                channel_timeout=opts.session_timeout_s,
                pkey=first_key,
                key_filename=(key_files[1:] if first_key is not None else key_files) or None,
                look_for_keys=default_keys,
                allow_agent=agent_allowed(entry),
            )
        except (OSError, EOFError, paramiko.SSHException) as exc:
            cause: BaseException = exc
            if guard is not None and self._remaining() <= 0:
                cause = TimeoutError(f"host deadline of {self._deadline.budget_s:g} s exceeded")
            elif banner.lines or (
                "protocol banner" in str(exc) and time.monotonic() - started < opts.banner_timeout_s * 0.9
            ):
                cause = not_ssh(banner.lines)
            raise self._connect_error(cause, conn, record_to, tried) from None
        finally:
            banner.detach()
            if guard is not None:
                CUTTER.disarm(guard)
        conn.transport = client.get_transport()
        if isinstance(sock, socket.socket):
            sock.settimeout(IDLE_READ_TIMEOUT_S)

    def _connect_error(
        self, exc: BaseException, conn: Connection, record_to: str, tried: str
    ) -> TransportError:
        """The TransportError for a failed handshake: host key, auth, or unreachable."""
        address = f"{conn.host}:{conn.port}"
        if isinstance(exc, UnknownHostKey):
            return unknown_key_error(exc, self.where, conn.host, int(conn.port), record_to)
        if isinstance(exc, paramiko.BadHostKeyException):
            return changed_key_error(exc, self.where, host_key_name(conn.host, int(conn.port)))
        if isinstance(exc, paramiko.AuthenticationException) and "timeout" in str(exc).lower():
            # no key was rejected: the server (or a proxy in between) stopped answering mid-handshake
            return self._unreachable(
                address,
                "SSH authentication",
                TimeoutError(f"no answer within {self._options.auth_timeout_s:g} s (the peer stalled)"),
            )
        if isinstance(exc, paramiko.AuthenticationException) or (
            isinstance(exc, paramiko.SSHException) and "private key" in str(exc).lower()
        ):  # a key file paramiko cannot read ("not a valid OPENSSH private key file") is not the network
            return TransportError(
                f"authentication as {conn.user} at {address} failed: {exc} (keys tried: {tried})",
                state="auth-failed",
                where=self.where,
                hint="check ansible_user / -u and ansible_ssh_private_key_file / --private-key,"
                " and that the public key is in the remote authorized_keys",
            )
        return self._unreachable(address, "SSH handshake", exc)

    def _unreachable(self, address: str, stage: str, exc: BaseException) -> TransportError:
        return unreachable(self.where, address, stage, exc, self._options)

    # -- run ----------------------------------------------------------------------------------
    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        conn = self._connected()
        sudo = self._become and conn.user != "root"
        run = CommandRun.start(command, timeout_s, self._deadline, sudo=sudo, where=self.where)
        channel = self._exec(conn, remote_command(command, run.limit_s, sudo=sudo), stdin=False)
        ran = time.monotonic()
        try:
            output = collect(channel, run.wait_s)
            remote_ended = channel.closed or channel.eof_received
        finally:
            channel.close()
        if run.dropped(output[2], ran):
            self.close()
        return command_result(run, output, ran=ran, remote_ended=remote_ended)

    def stream(self, command: str) -> ChannelStream:
        """Start ``command`` on a channel that stays open (``pfdiag watch``: one login, many ticks)."""
        return ChannelStream(self._exec(self._connected(), command, stdin=True), self.where)

    def _exec(self, conn: Connection, command: str, *, stdin: bool) -> paramiko.Channel:
        """A new session on the connection running ``command``; without ``stdin`` it gets EOF at once,
        so it never hangs reading it. A session that cannot be opened is ``unreachable``."""
        try:
            channel = conn.transport.open_session(
                timeout=self._stage(self._options.session_timeout_s, "opening a session", "unreachable")
            )
            channel.exec_command(command)
            if not stdin:
                channel.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise TransportError(
                f"cannot open an SSH session: {exc or type(exc).__name__}",
                state="unreachable",
                where=self.where,
                hint="the connection dropped or the server refuses sessions (MaxSessions?)",
            ) from None
        return channel

    def close(self) -> None:
        """Close the connection (and any ProxyJump hops); the next ``run`` reconnects."""
        conn, self._conn = self._conn, None
        if conn is not None:
            _wake(conn)
            conn.close()
            gateway = conn.gateway
            while isinstance(gateway, Connection):
                gateway.close()
                gateway = gateway.gateway
        self._end_proxies()

    def _end_proxies(self) -> None:
        """End the ProxyCommands started so far (a failed handshake leaves paramiko's transport open)."""
        proxies, self._proxies = self._proxies, []
        for proxy in proxies:
            proxy.close()


def _wake(conn: Connection) -> None:
    """End the transport thread's socket read now (it waits up to IDLE_READ_TIMEOUT_S otherwise)."""
    transport = conn.transport
    sock = getattr(transport, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # not close(): paramiko's thread is reading the fd


class _BannerLines(logging.Handler):
    """Collects the lines a peer sends before its SSH banner (paramiko logs them at DEBUG as
    ``Banner: ...``), so a failed handshake can say what the peer did send. One logger per host
    thread, at DEBUG, enabled only until the banner is read.

    Enabled and disabled by ``Logger.disabled``, not by ``setLevel``: every ``setLevel`` clears the
    level cache of every logger in the process, and with one logger per host thread that made each
    of 1,000 handshakes walk 1,000 loggers under logging's global lock, twice."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self.logger = logger
        self.lines: list[str] = []

    @classmethod
    def attach(cls, client: paramiko.SSHClient) -> _BannerLines:
        name = f"paramiko.transport.pfdiag.{threading.get_ident()}"
        logger = logging.getLogger(name)  # propagates to "paramiko", whose NullHandler keeps stderr quiet
        if logger.level != logging.DEBUG:
            logger.setLevel(logging.DEBUG)  # once per thread
        handler = cls(logger)
        logger.addHandler(handler)
        logger.disabled = False
        client.set_log_channel(name)
        return handler

    def detach(self) -> None:
        self.logger.removeHandler(self)
        self.logger.disabled = True  # the session's own DEBUG lines cost nothing after this

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Banner: ") and len(self.lines) < 5:
            self.lines.append(message[len("Banner: ") :])
        elif message.startswith("Remote version/idstring"):
            self.logger.disabled = True  # the banner is over: no DEBUG records for the key exchange


class _ProxyCommand(paramiko.ProxyCommand):
    """paramiko's ProxyCommand, whose close kills and reaps the command once: paramiko's only sends
    SIGTERM, never waits (a zombie, or a command that ignores SIGTERM, stays behind) and signals the
    pid again on every later close (its transport's threads close it again at exit)."""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _cut(sock: socket.socket | paramiko.Channel | paramiko.ProxyCommand) -> None:
    """Abort a handshake at the host deadline: paramiko's reads then fail at once."""
    try:
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)  # not close(): another thread is reading the fd
        else:
            sock.close()
    except OSError:
        pass
