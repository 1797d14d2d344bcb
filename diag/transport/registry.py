"""The transports by ``ansible_connection`` name: local, ssh (asyncssh; smart is its alias), paramiko
(Fabric, the fallback), replay.

In: a host, its vars, the ``ConnectOptions`` and the engine's ``Deadline``. Out: an open ``Transport``.
Each implementation is imported only when a host asks for it, so local runs never pay for an SSH library.
"""

from __future__ import annotations

from collections.abc import Callable

from diag.shared.errors import TransportError
from diag.transport.base import NO_DEADLINE, ConnectOptions, Deadline, Transport

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
    from diag.transport.sshasync import SSHTransport  # asyncssh's import is paid only by SSH runs

    return SSHTransport(host, hostvars, options, become=become, deadline=deadline)


def _paramiko(
    host: str, hostvars: dict[str, object], options: ConnectOptions, become: bool, deadline: Deadline
) -> Transport:
    from diag.transport.ssh import ParamikoTransport  # Fabric's import is paid only by its own runs

    return ParamikoTransport(host, hostvars, options, become=become, deadline=deadline)


def _replay(
    host: str, hostvars: dict[str, object], options: ConnectOptions, become: bool, deadline: Deadline
) -> Transport:
    from diag.transport.replay import ReplayTransport

    return ReplayTransport.from_hostvars(host, hostvars)


TRANSPORTS: dict[str, TransportFactory] = {
    "local": _local,
    "ssh": _ssh,
    "smart": _ssh,  # Ansible's default: ssh
    "paramiko": _paramiko,  # the Fabric/paramiko fallback
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
