"""One long-lived stream per watched host: the ticker command started once, one exchange per tick.

In: an inventory host (its vars) and ``ConnectOptions``. Out: a ``Stream`` (``diag.transport``) whose
``exchange`` sends one line and returns that tick's text, opened through the host's transport like
any command (local: a subprocess; SSH: one channel, one login for the whole watch; replay: refused,
it has nothing live to stream). A dead channel or a host that does not answer in time raises
``TransportError``; the runner reconnects.
"""

from __future__ import annotations

import os

from diag.transport import ConnectOptions, Deadline, Stream, Transport, open_transport
from diag.watch.ticker import ticker_command


def open_stream(name: str, hostvars: dict[str, object], options: ConnectOptions) -> tuple[Stream, str]:
    """Start the ticker on ``name``; returns the stream and where it runs (for messages)."""
    # The deadline bounds this connect attempt only; the stream itself lives as long as the watch.
    transport = open_transport(
        name, hostvars, options, Deadline.after(max(30.0, options.connect_timeout_s * 3))
    )
    # a local ticker sees the controller too: it leaves this process out of the rates
    command = ticker_command(exclude_pid=os.getpid() if transport.local else None)
    try:
        stream = transport.stream(command)
    except BaseException:
        transport.close()
        raise
    return _Owned(stream, transport), stream.where


class _Owned:
    """A stream that also closes its transport (one login per stream)."""

    def __init__(self, stream: Stream, transport: Transport) -> None:
        self.stream = stream
        self.transport = transport
        self.where = stream.where

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
