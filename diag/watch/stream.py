"""One long-lived channel per watched host: the ticker command started once, one exchange per tick.

In: an inventory host (its vars) and ``ConnectOptions``. Out: a ``Stream`` whose ``tick(seq)`` sends
one line and returns that tick's text. Local hosts run the command through ``/bin/sh`` without SSH;
SSH hosts through ``SSHTransport.open_stream`` (one login for the whole watch). A dead channel or a
host that does not answer in time raises ``TransportError``; the runner reconnects.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from typing import Protocol

from diag.shared.errors import TransportError
from diag.transport import ConnectOptions, Transport
from diag.watch.ticker import ticker_command


class Stream(Protocol):
    @property
    def bytes_in(self) -> int: ...

    @property
    def bytes_out(self) -> int: ...

    def exchange(self, line: bytes, marker: bytes, timeout_s: float) -> bytes: ...

    def close(self) -> None: ...


class LocalStream:
    """The ticker in a local subprocess (its own process group, killed on close)."""

    def __init__(self, command: str, where: str) -> None:
        self.where = where
        self.buffer = b""
        self.bytes_in = 0
        self.bytes_out = 0
        try:
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise TransportError(f"cannot start /bin/sh: {exc}", state="failed", where=where) from None

    def exchange(self, line: bytes, marker: bytes, timeout_s: float) -> bytes:
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


def open_stream(name: str, hostvars: dict[str, object], options: ConnectOptions) -> tuple[Stream, str]:
    """Start the ticker on ``name``; returns the stream and where it runs (for messages)."""
    if str(hostvars.get("ansible_connection", "ssh")) == "local":
        return LocalStream(ticker_command(exclude_pid=os.getpid()), name), name
    from diag.transport import Deadline, open_transport

    # The deadline bounds this connect attempt only; the stream itself lives as long as the watch.
    transport = open_transport(
        name, hostvars, options, Deadline.after(max(30.0, options.connect_timeout_s * 3))
    )
    open_stream_of = getattr(transport, "open_stream", None)
    if open_stream_of is None:
        raise TransportError("this transport cannot hold a watch channel", state="failed", where=name)
    try:
        channel: Stream = open_stream_of(ticker_command())
    except BaseException:
        transport.close()
        raise
    return _Owned(channel, transport), getattr(transport, "where", name)


class _Owned:
    """A channel stream that also closes its SSH connection (one login per stream)."""

    def __init__(self, stream: Stream, transport: Transport) -> None:
        self.stream = stream
        self.transport = transport

    @property
    def bytes_in(self) -> int:
        return self.stream.bytes_in

    @property
    def bytes_out(self) -> int:
        return self.stream.bytes_out

    def exchange(self, line: bytes, marker: bytes, timeout_s: float) -> bytes:
        return self.stream.exchange(line, marker, timeout_s)

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            self.transport.close()
