"""How a command reaches a host: one small Protocol that local and SSH transports share.

The engine hands a transport a shell command string and gets back a ``CommandResult``; it never
knows whether the text came from a subprocess or an SSH channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
        """The last few lines of stderr, for error messages: at most ``TAIL_CHARS`` characters, since
        one 50 MB line would otherwise land in the terminal and the report whole."""
        tail = "\n".join(self.stderr[-TAIL_CHARS * 4 :].strip().splitlines()[-lines:])
        return tail if len(tail) <= TAIL_CHARS else "..." + tail[-TAIL_CHARS:]


TAIL_CHARS = 2000


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
class ConnectOptions:
    """Connection settings from the CLI (``-u -T --private-key -b``...) and ssh_config defaults.

    Every stage has its own timeout; ``host_deadline_s`` bounds a whole host (connect + all tasks).
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
    host_deadline_s: float = 60.0
    host_key_policy: str = "strict"
    known_hosts: tuple[str, ...] = ()  # extra known_hosts files; ~/.ssh/known_hosts etc. always read
    ssh_config: str | None = None  # None: ~/.ssh/config when it exists
    become: bool = False


def open_transport(host: str, hostvars: dict[str, object], options: ConnectOptions) -> Transport:
    """The transport for one inventory host: local for ``ansible_connection=local``, else SSH.

    SSH is imported only here, so local runs never pay for Fabric's import.
    """
    connection = str(hostvars.get("ansible_connection", "ssh"))
    become = options.become or str(hostvars.get("ansible_become", "")).lower() in ("1", "true", "yes", "on")
    if connection == "local":
        from diag.transport.local import LocalTransport

        return LocalTransport(host, become=become)
    if connection not in ("ssh", "smart", "paramiko"):
        from diag.errors import TransportError

        raise TransportError(
            f"connection type {connection!r} is not supported (use ssh or local)",
            state="failed",
            where=host,
        )
    from diag.transport.ssh import SSHTransport

    return SSHTransport(host, hostvars, options, become=become)
