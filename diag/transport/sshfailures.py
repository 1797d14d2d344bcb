"""How an SSH failure reads, whichever library carried it (Fabric/paramiko or asyncssh).

In: what went wrong (a stage, an exception, a command's end) and where. Out: the ``TransportError``
with its state (unreachable, timeout, failed) and the message and hint the suite and the users know,
or the ``CommandResult`` of a command that did end. One owner, so the two SSH transports say the same.
"""

from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass

from diag.shared.errors import TransportError
from diag.transport.base import CommandResult, ConnectOptions, Deadline
from diag.transport.sshexec import KILL_GRACE_S, check_sudo, short


class NotSSH(Exception):
    """The peer answered, but not as an SSH server."""


def not_ssh(lines: list[str]) -> NotSSH:
    """What the peer sent instead of an SSH banner (its first line), or that it sent nothing.

    >>> print(not_ssh(["HTTP/1.1 400 Bad Request"]))  # doctest: +NORMALIZE_WHITESPACE
    the peer is not an SSH server (an HTTP server?): it sent 'HTTP/1.1 400 Bad Request'
    instead of an SSH banner
    """
    if lines:
        first = lines[0].strip()[:80]
        kind = " (an HTTP server?)" if first.startswith("HTTP/") or first.startswith("<") else ""
        return NotSSH(f"the peer is not an SSH server{kind}: it sent {first!r} instead of an SSH banner")
    return NotSSH("the peer closed the connection without sending an SSH banner")


def unreachable(
    where: str, address: str, stage: str, exc: BaseException, options: ConnectOptions
) -> TransportError:
    """``unreachable``: which stage to which address failed, and why in words."""
    if isinstance(exc, (TimeoutError, NotSSH)) and str(exc):
        what = str(exc)
    elif isinstance(exc, TimeoutError):
        what = f"timed out after {options.connect_timeout_s:g} s"
    elif isinstance(exc, socket.gaierror):
        what = f"name does not resolve ({exc.strerror})"
    elif "banner" in str(exc) or "No existing session" in str(exc):
        what = f"no SSH banner/handshake within {options.banner_timeout_s:g} s"
    else:
        what = str(exc) or type(exc).__name__
    return TransportError(
        f"{stage} to {address} failed: {what}",
        state="unreachable",
        where=where,
        hint="check the address and port (ansible_host / ansible_port / ssh_config) and that sshd runs",
    )


def stage_timeout(deadline: Deadline, stage_s: float, what: str, state: str, where: str) -> float:
    """A stage's timeout, cut to what is left of the host deadline; past it, the stage fails."""
    left = deadline.remaining_s()
    if left <= 0:
        raise TransportError(
            f"host deadline of {deadline.budget_s:g} s exceeded before {what}",
            state=state,
            where=where,
            hint="raise the per-host deadline or check why the host is slow",
        )
    return min(stage_s, left)


@dataclass(frozen=True, slots=True)
class CommandRun:
    """One command's limits, set as it starts: the limit (the task's timeout cut to the host deadline),
    whether the deadline sets it, and how long to wait for its end.

    The engine already cuts a task's timeout to the host deadline: within a second of it, the deadline
    is what ends the command, and the message must say so. The wait covers the remote watchdog's kill
    (``KILL_GRACE_S``), but never runs past the deadline by more than a moment.
    """

    command: str
    started: float
    limit_s: float
    timeout_s: float
    by_deadline: bool
    wait_s: float
    deadline: Deadline
    sudo: bool
    where: str

    @classmethod
    def start(
        cls, command: str, timeout_s: float, deadline: Deadline, *, sudo: bool, where: str
    ) -> CommandRun:
        started = time.monotonic()
        limit = stage_timeout(deadline, timeout_s, "running the command", "timeout", where)
        by_deadline = limit < timeout_s or deadline.remaining_s() - limit < 1.0
        wait_s = math.ceil(limit) + KILL_GRACE_S + 1.0
        if by_deadline:
            wait_s = min(wait_s, max(limit, deadline.remaining_s()) + 0.5)
        return cls(command, started, limit, timeout_s, by_deadline, wait_s, deadline, sudo, where)

    def dropped(self, status: int | None, ran: float) -> bool:
        """No exit status, well before the limit: a signal or a dropped connection (reconnect next)."""
        return status is None and time.monotonic() - ran < self.limit_s


def command_result(
    run: CommandRun, output: tuple[bytes, bytes, int | None], *, ran: float, remote_ended: bool
) -> CommandResult:
    """What a wrapped command's (stdout, stderr, exit status) mean: a result, or why there is none.

    No status within the limit: the command ended without one (a signal, a dropped connection), else
    it timed out, at the task's timeout or at the host deadline (``by_deadline``), killed on the host
    or not (``remote_ended``). With become, a status from sudo itself is a failure of the host.
    """
    command, where, limit_s, sudo = run.command, run.where, run.limit_s, run.sudo
    out, err, status = output
    if run.dropped(status, ran):
        raise TransportError(
            f"the command ended without an exit status (killed by a signal, or the connection"
            f" dropped): {short(command)}",
            state="failed",
            where=where,
            hint="see the host's logs; rerun to check whether it happens again",
        )
    if status is None:
        why = (
            f"{limit_s:.1f} s, at the host deadline of {run.deadline.budget_s:g} s"
            if run.by_deadline
            else f"{run.timeout_s:g} s (the command timeout)"
        )
        fate = "was killed on the host" if remote_ended else "may still run: the host did not end it"
        raise TransportError(
            f"command timed out after {why} and {fate}: {short(command)}",
            state="timeout",
            where=where,
            hint="raise the task timeout if the host is just slow",
        )
    if sudo and status != 0:
        check_sudo(err, status, where)
    return CommandResult(
        command=command,
        exit_code=status,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        elapsed_s=time.monotonic() - run.started,
    )
