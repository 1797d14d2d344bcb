"""The asyncssh sessions, on the process's one SSH loop: a command and a watch stream.

In: an open connection (``diag.transport.sshlogin``). Out: for a command, (stdout, stderr, exit
status) as ``sshexec.collect`` gives them for paramiko; for the watch, a ``LoopStream``. Coroutines
here run on the loop only; ``LoopStream``'s methods are called from the watch's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import cast

import asyncssh

from diag.shared.errors import TransportError
from diag.transport.capture import Capped
from diag.transport.sshloop import call

# -- a command --------------------------------------------------------------------------------------


class _Collected(asyncssh.SSHClientSession[bytes]):
    """stdout and stderr of one command, each capped (a probe prints KiBs; 300 MB must not take RAM)."""

    def __init__(self) -> None:
        self.out, self.err = Capped(), Capped()
        self.eof = False

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        (self.err if datatype == asyncssh.EXTENDED_DATA_STDERR else self.out).add(data)

    def eof_received(self) -> bool:
        self.eof = True
        return False


async def _session(
    conn: asyncssh.SSHClientConnection,
    command: str,
    session_s: float,
    where: str,
    factory: type[asyncssh.SSHClientSession[bytes]],
) -> tuple[asyncssh.SSHClientChannel[bytes], asyncssh.SSHClientSession[bytes]]:
    """A new session running ``command``; one that cannot be opened is ``unreachable``."""
    try:
        async with asyncio.timeout(session_s):  # not wait_for: no task of its own for each session
            return await conn.create_session(factory, command, encoding=None)
    except (asyncssh.Error, OSError, TimeoutError) as exc:
        raise TransportError(
            f"cannot open an SSH session: {exc or type(exc).__name__}",
            state="unreachable",
            where=where,
            hint="the connection dropped or the server refuses sessions (MaxSessions?)",
        ) from None


async def exec_session(
    conn: asyncssh.SSHClientConnection, command: str, session_s: float, wait_s: float, where: str
) -> tuple[tuple[bytes, bytes, int | None], bool, float]:
    """Run ``command`` with stdin closed at once: ((stdout, stderr, exit status), whether the remote side
    ended it, when it started). The status is None when it did not end within ``wait_s`` or ended
    without one (an exit signal: the remote watchdog's kill)."""
    channel, session = await _session(conn, command, session_s, where, _Collected)
    collected = cast(_Collected, session)
    ran = time.monotonic()
    channel.write_eof()
    try:
        async with asyncio.timeout(wait_s):
            await channel.wait_closed()
        closed = True
    except TimeoutError:
        closed = False
    status = channel.get_exit_status() if closed else None
    channel.close()
    output = collected.out.value(), collected.err.value(), None if status in (None, -1) else status
    return output, closed or collected.eof, ran


# -- the watch's stream ------------------------------------------------------------------------------


class _Buffered(asyncssh.SSHClientSession[bytes]):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.changed = asyncio.Event()
        self.ended = False
        self.bytes_in = 0

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if datatype is None:
            self.buffer += data
            self.bytes_in += len(data)
            self.changed.set()

    def eof_received(self) -> bool:
        self.ended = True
        self.changed.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.changed.set()


class LoopStream:
    """A command that stays running on an open channel (``pfdiag watch``): lines in, text back.

    Closing the channel ends the command: it reads EOF on stdin, and sshd hangs it up.
    ``bytes_in``/``bytes_out`` count what travelled (the watch's cost per tick).
    """

    def __init__(self, channel: asyncssh.SSHClientChannel[bytes], session: _Buffered, where: str) -> None:
        self._channel = channel
        self._session = session
        self.where = where
        self.bytes_out = 0

    @classmethod
    def open(
        cls, conn: asyncssh.SSHClientConnection, command: str, session_s: float, where: str
    ) -> LoopStream:
        channel, session = call(_session(conn, command, session_s, where, _Buffered))
        return cls(channel, cast(_Buffered, session), where)

    @property
    def bytes_in(self) -> int:
        return self._session.bytes_in

    def exchange(self, line: bytes, marker: bytes, timeout_s: float) -> bytes:
        """Send ``line``, return the output up to and including ``marker``."""
        out = call(self._exchange(line, marker, timeout_s))
        self.bytes_out += len(line)
        return out

    async def _exchange(self, line: bytes, marker: bytes, timeout_s: float) -> bytes:
        session = self._session
        try:
            self._channel.write(line)
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(
                f"the watch channel dropped: {exc}", state="unreachable", where=self.where
            ) from None
        deadline = time.monotonic() + timeout_s
        while marker not in session.buffer:
            if session.ended:
                raise TransportError(
                    "the watch command ended on the host (connection closed)",
                    state="unreachable",
                    where=self.where,
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"no answer within {timeout_s:g} s", state="timeout", where=self.where)
            session.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.changed.wait(), left)
        end = session.buffer.index(marker) + len(marker)
        out = bytes(session.buffer[:end])
        del session.buffer[:end]
        return out

    def close(self) -> None:
        call(_close_channel(self._channel))


async def _close_channel(channel: asyncssh.SSHClientChannel[bytes]) -> None:
    channel.close()
