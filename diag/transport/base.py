"""What every transport shares: ``CommandResult``, ``Transport`` and ``Stream`` (Protocols), ``Deadline``,
``ConnectOptions``.

In: nothing. Out: the records the transports (local, ssh, replay) and their callers (the engine, the
watch) exchange; the registry in ``diag.transport.registry`` and the package re-export them.
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


class Stream(Protocol):
    """A command left running on a host (the watch's ticker): one line in, its answer back, many times.

    ``exchange`` sends ``line`` and returns the output up to and including ``marker``; it raises
    ``TransportError`` when the command ended, the channel dropped or no answer came within
    ``timeout_s``. ``bytes_in``/``bytes_out`` count what travelled; ``where`` names the host for messages.
    """

    where: str

    @property
    def bytes_in(self) -> int: ...

    @property
    def bytes_out(self) -> int: ...

    def exchange(self, line: bytes, marker: bytes, timeout_s: float) -> bytes: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Runs POSIX-sh command strings on one host: once (``run``) or kept running (``stream``).

    ``run`` raises ``TransportError`` (with ``state`` set) when the host cannot be reached or the
    command times out; a command that runs and exits non-zero is a ``CommandResult``, not an error.
    ``stream`` starts a command that reads its stdin for as long as the stream is open (one login for
    a whole watch); a transport that cannot hold one (replay) raises ``TransportError`` saying so.
    Closing the transport does not close its streams: close each stream, then the transport.
    """

    host: str
    local: bool  # True when commands run on the controller itself (its own processes are visible)

    def run(self, command: str, *, timeout_s: float) -> CommandResult: ...

    def stream(self, command: str) -> Stream: ...

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
