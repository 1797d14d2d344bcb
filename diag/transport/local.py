"""Local transport: runs a command string with ``/bin/sh -c`` on this machine, no SSH.

Used for the implicit ``localhost`` and for hosts with ``ansible_connection=local``. ``run`` waits for
the command; ``stream`` keeps one running in its own process group (``LocalStream``: the watch's ticker).
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import subprocess
import time
from collections.abc import Callable

from diag.shared.errors import TransportError
from diag.transport.base import CommandResult
from diag.transport.capture import Capped

# A command being stopped (timeout, Ctrl-C, SIGTERM) gets SIGTERM first and SIGKILL this much later: the
# deep dive's trap stops perf and removes its temp folder (perf.data), which SIGKILL would leave behind.
# Under the engine's 5 s DRAIN_GRACE_S, so a stopped host still ends before it is given up on.
TERM_GRACE_S = 2.0
POLL_S = 0.5  # how often a read checks whether a close's grace is over


class LocalTransport:
    """Run commands on the controller itself; a timeout kills the command's whole process group."""

    local = True

    def __init__(self, host: str = "localhost", *, shell: str = "/bin/sh", become: bool = False) -> None:
        self.host = host
        self.shell = shell
        self.become = become
        self._running: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        self._closed_at: float | None = None  # time.monotonic() of the first close()

    def _argv(self, command: str) -> list[str]:
        argv = [self.shell, "-c", command]
        if self.become and os.geteuid() != 0:
            argv = ["sudo", "-n", *argv]  # -n: fail at once rather than prompt
        return argv

    def stream(self, command: str) -> LocalStream:
        """Start ``command`` with a pipe on its stdin, kept running until the stream is closed."""
        return LocalStream(self._argv(command), self.host)

    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                self._argv(command),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout kills the children too
            )
        except OSError as exc:
            raise TransportError(
                f"cannot start {self.shell}: {exc}", state="failed", where=self.host
            ) from exc
        self._running.add(proc)
        try:
            out, err = _read_capped(proc, timeout_s, self._kill_at)
        except subprocess.TimeoutExpired:
            _end(proc)
            proc.communicate()
            raise TransportError(
                f"command timed out after {timeout_s:g} s and was killed",
                state="timeout",
                where=self.host,
            ) from None
        except BaseException:
            # Ctrl-C or SIGTERM on the controller: never leave the probe behind.
            _end(proc)
            proc.wait()
            raise
        finally:
            self._running.discard(proc)
        if self._closed:
            raise TransportError("command killed: the run was interrupted", state="failed", where=self.host)
        return CommandResult(
            command=command,
            exit_code=proc.returncode,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            elapsed_s=time.monotonic() - started,
        )

    def close(self) -> None:
        """End what still runs (Ctrl-C/SIGTERM close every host's connection, local ones too): SIGTERM
        now, SIGKILL once ``TERM_GRACE_S`` has passed (at a later close, or by the reading thread)."""
        self._closed = True
        if self._closed_at is None:
            self._closed_at = time.monotonic()
        late = time.monotonic() - self._closed_at >= TERM_GRACE_S
        for proc in list(self._running):
            _signal(proc, signal.SIGKILL if late else signal.SIGTERM)

    def _kill_at(self) -> float | None:
        return None if self._closed_at is None else self._closed_at + TERM_GRACE_S


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    """``sig`` to the command's process group (it has its own: ``start_new_session``)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group, up to ``TERM_GRACE_S`` for the command to end, then SIGKILL to what is left."""
    _signal(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(TERM_GRACE_S)
    _signal(proc, signal.SIGKILL)


def _read_capped(
    proc: subprocess.Popen[bytes], timeout_s: float, kill_at: Callable[[], float | None]
) -> tuple[bytes, bytes]:
    """Both pipes until EOF and exit, each kept up to ``MAX_OUTPUT_BYTES`` (``Capped``);
    ``TimeoutExpired`` after ``timeout_s``. Past ``kill_at()`` (a close's grace) the group is SIGKILLed."""
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None and proc.stderr is not None
    streams = {proc.stdout.fileno(): Capped(), proc.stderr.fileno(): Capped()}
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout_s)
            kill = kill_at()
            if kill is not None and time.monotonic() >= kill:
                _signal(proc, signal.SIGKILL)  # a command that ignored the close's SIGTERM
            for key, _ in selector.select(min(left, POLL_S)):
                data = os.read(key.fd, 65536)
                if data:
                    streams[key.fd].add(data)
                else:
                    selector.unregister(key.fd)
    proc.wait(max(0.0, deadline - time.monotonic()))
    proc.stdout.close()
    proc.stderr.close()
    out, err = streams.values()
    return out.value(), err.value()


class LocalStream:
    """A command kept running in a local subprocess (its own process group, killed on close)."""

    def __init__(self, argv: list[str], where: str) -> None:
        self.where = where
        self.buffer = b""
        self.bytes_in = 0
        self.bytes_out = 0
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise TransportError(f"cannot start {argv[0]}: {exc}", state="failed", where=where) from None

    def exchange(self, line: bytes, marker: bytes, timeout_s: float) -> bytes:
        """Send ``line``, return the output up to and including ``marker``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except OSError as exc:
            raise TransportError(
                f"the watch command ended: {exc}", state="failed", where=self.where
            ) from None
        self.bytes_out += len(line)
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while marker not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"no answer within {timeout_s:g} s", state="timeout", where=self.where)
            if not select.select([fd], [], [], left)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise TransportError(
                    f"the watch command exited ({self.proc.poll()})", state="failed", where=self.where
                )
            self.bytes_in += len(chunk)
            self.buffer += chunk
        end = self.buffer.index(marker) + len(marker)
        out, self.buffer = self.buffer[:end], self.buffer[end:]
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
