"""How a command reaches a host: one small Protocol, and a registry of transports by connection name.

The engine hands a transport a shell command string and gets back a ``CommandResult``; it never
knows whether the text came from a subprocess, an SSH channel or a recording. ``open_transport``
finds the transport by the host's ``ansible_connection`` in ``TRANSPORTS`` (local, ssh and its
aliases smart and paramiko, replay); a new transport is one class plus one ``register_transport``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from diag.errors import TransportError


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What one command returned: exit code, output, and how long it took on the wire."""

    command: str
    exit_code: int
    stdout: str
    stderr: str
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def stderr_tail(self, lines: int = 5) -> str:
        """The last few lines of stderr, for error messages."""
        return "\n".join(self.stderr.strip().splitlines()[-lines:])


class Transport(Protocol):
    """Runs POSIX-sh command strings on one host.

    ``run`` raises ``TransportError`` (with ``state`` set) when the host cannot be reached or the
    command times out; a command that runs and exits non-zero is a ``CommandResult``, not an error.
    """

    host: str
    local: bool  # True when commands run on the controller itself (its own processes are visible)

    def run(self, command: str, *, timeout_s: float) -> CommandResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a whole host must be done (``time.monotonic()``), set by the engine as the host starts;
    ``budget_s`` is the ``--host-deadline`` it came from, for messages. A transport cuts its own
    stages (connect, handshake, command) at this point."""

    at: float
    budget_s: float

    @classmethod
    def after(cls, budget_s: float) -> Deadline:
        return cls(time.monotonic() + budget_s, budget_s)

    def remaining_s(self) -> float:
        return self.at - time.monotonic()


NO_DEADLINE = Deadline(math.inf, math.inf)


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """Connection settings from the CLI (``-u -T --private-key -b``...) and ssh_config defaults.

    Every stage has its own timeout (the whole host's deadline is the engine's, see ``Deadline``).
    ``host_key_policy`` is ``strict`` (refuse unknown keys) or ``accept-new`` (record new keys);
    a changed key is always refused.
    """

    user: str | None = None
    private_key: str | None = None
    connect_timeout_s: float = 10.0
    banner_timeout_s: float = 10.0
    auth_timeout_s: float = 10.0
    session_timeout_s: float = 10.0
    command_timeout_s: float | None = None  # None: the task decides (interval + margin)
    host_key_policy: str = "strict"
    known_hosts: tuple[str, ...] = ()  # extra known_hosts files; ~/.ssh/known_hosts etc. always read
    ssh_config: str | None = None  # None: ~/.ssh/config when it exists
    become: bool = False


# (host, hostvars, options, become, deadline) -> Transport
TransportFactory = Callable[[str, dict[str, object], ConnectOptions, bool, Deadline], Transport]


def _local(
    host: str, hostvars: dict[str, object], options: ConnectOptions, become: bool, deadline: Deadline
) -> Transport:
    from diag.transport.local import LocalTransport

    return LocalTransport(host, become=become)


def _ssh(
    host: str, hostvars: dict[str, object], options: ConnectOptions, become: bool, deadline: Deadline
) -> Transport:
    from diag.transport.ssh import SSHTransport  # Fabric's import is paid only by SSH runs

    return SSHTransport(host, hostvars, options, become=become, deadline=deadline)


def _replay(
    host: str, hostvars: dict[str, object], options: ConnectOptions, become: bool, deadline: Deadline
) -> Transport:
    from diag.transport.replay import ReplayTransport

    return ReplayTransport.from_hostvars(host, hostvars)


TRANSPORTS: dict[str, TransportFactory] = {
    "local": _local,
    "ssh": _ssh,
    "smart": _ssh,  # Ansible's default: ssh
    "paramiko": _ssh,
    "replay": _replay,
}


def register_transport(name: str, factory: TransportFactory) -> None:
    """Make ``ansible_connection=<name>`` open transports made by ``factory``."""
    TRANSPORTS[name] = factory


def open_transport(
    host: str, hostvars: dict[str, object], options: ConnectOptions, deadline: Deadline = NO_DEADLINE
) -> Transport:
    """The transport for one inventory host, found by its ``ansible_connection`` (default ssh).

    An unknown connection name is a ``TransportError`` (state ``failed``) listing the known ones.
    """
    connection = str(hostvars.get("ansible_connection", "ssh"))
    become = options.become or str(hostvars.get("ansible_become", "")).lower() in ("1", "true", "yes", "on")
    factory = TRANSPORTS.get(connection)
    if factory is None:
        raise TransportError(
            f"connection type {connection!r} is not supported (known: {', '.join(sorted(TRANSPORTS))})",
            state="failed",
            where=host,
            hint="set ansible_connection to one of those, or leave it unset for ssh",
        )
    return factory(host, hostvars, options, become, deadline)
