"""Local transport: runs a command string with ``/bin/sh -c`` on this machine, no SSH.

Used for the implicit ``localhost`` and for hosts with ``ansible_connection=local``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from diag.errors import TransportError
from diag.transport.base import CommandResult


class LocalTransport:
    """Run commands on the controller itself; a timeout kills the command's whole process group."""

    local = True

    def __init__(self, host: str = "localhost", *, shell: str = "/bin/sh", become: bool = False) -> None:
        self.host = host
        self.shell = shell
        self.become = become

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
        try:
            out, err = proc.communicate(timeout=timeout_s)
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
        return CommandResult(
            command=command,
            exit_code=proc.returncode,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            elapsed_s=time.monotonic() - started,
        )

    def close(self) -> None:
        """Nothing to release: each command is its own subprocess."""
