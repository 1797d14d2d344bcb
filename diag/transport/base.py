"""What every transport shares: ``CommandResult``, ``Transport`` (Protocol), ``Deadline``, ``ConnectOptions``.

In: nothing. Out: the records the transports (local, ssh, replay) and the engine exchange; the
registry in ``diag.transport.registry`` and the package re-export them.
"""

from __future__ import annotations

import math
import time
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
