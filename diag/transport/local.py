"""Local transport: runs a command string with ``/bin/sh -c`` on this machine, no SSH.

Used for the implicit ``localhost`` and for hosts with ``ansible_connection=local``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time

from diag.errors import TransportError
from diag.transport.base import CommandResult
from diag.transport.capture import Capped


class LocalTransport:
    """Run commands on the controller itself; a timeout kills the command's whole process group."""

    local = True

    def __init__(self, host: str = "localhost", *, shell: str = "/bin/sh", become: bool = False) -> None:
        self.host = host
        self.shell = shell
        self.become = become
        self._running: set[subprocess.Popen[bytes]] = set()
        self._closed = False

    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        started = time.monotonic()
        argv = [self.shell, "-c", command]
        if self.become and os.geteuid() != 0:
            argv = ["sudo", "-n", *argv]  # -n: fail at once rather than prompt
        try:
            proc = subprocess.Popen(
                argv,
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
            out, err = _read_capped(proc, timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TransportError(
                f"command timed out after {timeout_s:g} s and was killed",
                state="timeout",
                where=self.host,
            ) from None
        except BaseException:
            # Ctrl-C or SIGTERM on the controller: never leave the probe behind.
            os.killpg(proc.pid, signal.SIGKILL)
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
        """Kill what still runs (Ctrl-C/SIGTERM close every host's connection, local ones too)."""
        self._closed = True
        for proc in list(self._running):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


def _read_capped(proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[bytes, bytes]:
    """Both pipes until EOF and exit, each kept up to ``MAX_OUTPUT_BYTES`` (``Capped``);
    ``TimeoutExpired`` after ``timeout_s``."""
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
            for key, _ in selector.select(left):
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
