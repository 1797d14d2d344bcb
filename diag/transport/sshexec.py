"""What runs on the host and what comes back: the watchdog wrapper, channel reading, become failures.

In: a POSIX-sh command string and its timeout. Out: the wrapped command line sent over SSH, and
(stdout, stderr, exit status) read from a paramiko channel. No Fabric here (see ``ssh.py``).
"""

from __future__ import annotations

import math
import select
import shlex
import time

import paramiko

from diag.shared.errors import TransportError
from diag.shared.limits import MAX_OUTPUT_BYTES
from diag.transport.capture import Capped

KILL_GRACE_S = 1.0  # after the remote watchdog's TERM, before its KILL
READ_CHUNK = 65536


def remote_command(command: str, timeout_s: float, *, sudo: bool) -> str:
    """Wrap ``command`` so the remote side kills it after ``timeout_s``, even if the controller is gone.

    sshd starts each exec in its own session, so ``$$`` is a process group holding everything the
    command started; the watchdog TERMs it, then KILLs it. A finished command kills the watchdog
    (its trap also kills its ``sleep``, which would otherwise linger). Targets may lack ``timeout``.

    >>> print(remote_command("echo hi", 2.5, sudo=False))  # doctest: +NORMALIZE_WHITESPACE
    ( trap 'kill $s 2>/dev/null; wait $s; exit 0' TERM; sleep 3 & s=$!; wait $s; trap '' TERM;
      kill -TERM -$$; sleep 1; kill -KILL -$$ ) </dev/null >/dev/null 2>&1 & w=$!;
      /bin/sh -c 'echo hi' </dev/null; rc=$?; kill $w 2>/dev/null; exit $rc
    """
    inner = f"sudo -n /bin/sh -c {shlex.quote(command)}" if sudo else f"/bin/sh -c {shlex.quote(command)}"
    watchdog = (
        f"( trap 'kill $s 2>/dev/null; wait $s; exit 0' TERM; sleep {math.ceil(timeout_s)} & s=$!; wait $s;"
        f" trap '' TERM; kill -TERM -$$; sleep {KILL_GRACE_S:g}; kill -KILL -$$ )"
        " </dev/null >/dev/null 2>&1 & w=$!;"
    )
    return f"{watchdog} {inner} </dev/null; rc=$?; kill $w 2>/dev/null; exit $rc"


def collect(
    channel: paramiko.Channel, wait_s: float, *, limit: int = MAX_OUTPUT_BYTES
) -> tuple[bytes, bytes, int | None]:
    """Read stdout and stderr until the channel ends; exit status None when it did not end in time
    or ended without one (the remote watchdog killed the command's process group). Each stream keeps
    at most ``limit`` bytes (a probe prints KiBs; 300 MB of output must not take the controller's RAM)."""
    deadline = time.monotonic() + wait_s
    out, err = Capped(limit), Capped(limit)
    fd = channel.fileno()  # a pipe paramiko sets when stdout or stderr has data or the channel closes
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out.value(), err.value(), None
        select.select([fd], [], [], left)
        # Read the EOF flag before draining: all data sent before EOF is then in the buffers.
        ended = channel.eof_received or channel.closed
        while channel.recv_stderr_ready():
            err.add(channel.recv_stderr(READ_CHUNK))
        while channel.recv_ready():
            out.add(channel.recv(READ_CHUNK))
        if ended:
            break
    if not channel.status_event.wait(max(0.0, deadline - time.monotonic())):
        return out.value(), err.value(), None
    status = channel.recv_exit_status()
    # paramiko reports -1 when sshd sent exit-signal instead of exit-status: the watchdog's kill.
    return out.value(), err.value(), None if status == -1 else status


def check_sudo(stderr: bytes, status: int, where: str) -> None:
    """``become`` that never reached the command is a failure of the host, not a command result."""
    text = stderr.decode("utf-8", "replace")
    if status == 127 and "sudo" in text and "not found" in text:
        raise TransportError(
            "become needs sudo, which is not installed on the host",
            state="failed",
            where=where,
            hint="install sudo with a NOPASSWD rule for the login user, or connect as root",
        )
    if "sudo:" in text and ("password is required" in text or "not in the sudoers" in text):
        raise TransportError(
            f"become failed: {text.strip().splitlines()[-1]}",
            state="failed",
            where=where,
            hint="give the login user a NOPASSWD sudo rule (sudo -n never prompts), or connect as root",
        )


def short(command: str, limit: int = 80) -> str:
    return command if len(command) <= limit else command[: limit - 3] + "..."


class ChannelStream:
    """A command that stays running on an open channel (``pfdiag watch``): lines in, text back.

    Closing the channel ends the command: it reads EOF on stdin, and sshd hangs it up.
    ``bytes_in``/``bytes_out`` count what travelled (the watch's cost per tick).
    """

    def __init__(self, channel: paramiko.Channel, where: str) -> None:
        self.channel = channel
        self.where = where
        self.buffer = b""
        self.bytes_in = 0
        self.bytes_out = 0

    def exchange(self, line: bytes, marker: bytes, timeout_s: float) -> bytes:
        """Send ``line``, return the output up to and including ``marker``."""
        try:
            self.channel.sendall(line)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise TransportError(
                f"the watch channel dropped: {exc}", state="unreachable", where=self.where
            ) from None
        self.bytes_out += len(line)
        deadline = time.monotonic() + timeout_s
        fd = self.channel.fileno()
        while marker not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"no answer within {timeout_s:g} s", state="timeout", where=self.where)
            select.select([fd], [], [], left)
            ended = self.channel.eof_received or self.channel.closed
            while self.channel.recv_ready():
                chunk = self.channel.recv(READ_CHUNK)
                self.bytes_in += len(chunk)
                self.buffer += chunk
            while self.channel.recv_stderr_ready():
                self.channel.recv_stderr(READ_CHUNK)
            if ended and marker not in self.buffer:
                raise TransportError(
                    "the watch command ended on the host (connection closed)",
                    state="unreachable",
                    where=self.where,
                )
        end = self.buffer.index(marker) + len(marker)
        out, self.buffer = self.buffer[:end], self.buffer[end:]
        return out

    def close(self) -> None:
        self.channel.close()
