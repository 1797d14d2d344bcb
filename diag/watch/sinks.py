"""Where a watch's events leave the process, each bounded so that a stuck receiver cannot hold the watch.

In: event records (diag/runs/events.py) and paths. Out: ``JsonlOut`` (``--jsonl PATH``: a FIFO without a
reader is refused at the start, a reader that stops reading ends the watch after ``JSONL_STALL_S`` with
an error, as does a device that refuses the bytes, ``/dev/full``), ``Notifier`` (``--notify`` /
``--notify-url`` on a worker thread; at the end it gets ``NOTIFY_FLUSH_S`` to deliver what is queued, and
what it could not is said, never dropped without a word) and ``Reserve`` (room for the final ``run.json``
set aside at the start, so a watch that filled its disk still records how it ended).
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import select
import threading
import time
from pathlib import Path
from typing import IO

from diag.notify import send_command, send_url
from diag.runs.events import AlertEvent, event_data
from diag.shared.errors import ReportError, UsageError
from diag.shared.files import FILE_MODE, silence

# A reader that has not read for this long with the pipe full is gone for the watch's purposes: the
# events are still all in the run folder's events.jsonl.
JSONL_STALL_S = 10.0
# At the end (count, duration, Ctrl-C): how long the queued alerts get to be delivered, in all.
NOTIFY_FLUSH_S = 15.0
# The final run.json of a watch is ~1 KiB plus ~100 bytes a host; 256 KiB holds a 2,000-host watch.
RESERVE_BYTES = 256 * 1024


class JsonlOut:
    """``--jsonl PATH``: appended to (created 0600), never waited on past ``JSONL_STALL_S``."""

    def __init__(self, path: str) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            # O_NONBLOCK: opening a FIFO for writing waits for a reader; this fails at once instead
            self.fd = os.open(path, flags, FILE_MODE)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                raise UsageError(
                    f"--jsonl: nothing is reading from the FIFO {path!r}",
                    hint=f"start its reader first (e.g. `cat {path} &`), or give a file",
                ) from None
            raise UsageError(f"--jsonl: cannot open {path!r}: {exc.strerror}") from None

    def write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        deadline = time.monotonic() + JSONL_STALL_S
        while data:
            try:
                data = data[os.write(self.fd, data) :]
                deadline = time.monotonic() + JSONL_STALL_S  # a slow reader is still a reader
                continue
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left > 0:
                    select.select([], [self.fd], [], left)
                    continue
                reason = f"its reader read nothing for {JSONL_STALL_S:g} s"
            except OSError as exc:
                reason = {
                    errno.ENOSPC: "the device is full",
                    errno.EPIPE: "its reader closed it",
                }.get(exc.errno or 0, exc.strerror or str(exc))
            raise ReportError(
                f"cannot write --jsonl {self.path!r}: {reason}; the watch stopped",
                hint="every event up to here is in the run folder's events.jsonl",
            )

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class OutputClosed(ReportError):
    """Standard output's reader went away (``| head``): the watch ends quietly, as other commands do."""


def reader_gone(out: IO[str]) -> bool:
    """True when ``out`` is a pipe whose reader closed it, found without writing to it.

    A quiet watch writes nothing for many ticks, so ``pfdiag watch | head -1`` would otherwise go on
    reaching the hosts until ``--count``; poll reports POLLERR on a pipe's write end once its reader is
    gone (and POLLHUP on a terminal that hung up), and nothing on a file or a live pipe.
    """
    try:
        fd = out.fileno()
    except (OSError, ValueError, AttributeError):  # pytest's capture, a closed stream: not a pipe
        return False
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR and POLLHUP are reported whatever is asked
    return any(events & (select.POLLERR | select.POLLHUP) for _fd, events in poller.poll(0))


def output_error(out: IO[str], exc: OSError) -> ReportError:
    """The error of a terminal/stdout write that failed; its descriptor then goes to /dev/null."""
    silence(out)
    if isinstance(exc, BrokenPipeError):
        return OutputClosed("standard output was closed by its reader")
    return ReportError(f"cannot write to standard output: {exc.strerror or exc}")


class Notifier(threading.Thread):
    """Delivers alerts to --notify / --notify-url one at a time, off the watch's own threads."""

    def __init__(self, cmd: str | None, url: str | None, warn: list[str]) -> None:
        super().__init__(name="watch-notify", daemon=True)
        self.cmd, self.url, self.warn = cmd, url, warn
        self.queue: queue.Queue[AlertEvent | None] = queue.Queue()
        self.pending: list[AlertEvent] = []  # queued or being sent, in order
        self.lock = threading.Lock()
        self.stopped = False

    def put(self, event: AlertEvent) -> None:
        with self.lock:
            self.pending.append(event)
        self.queue.put(event)

    def run(self) -> None:
        while (event := self.queue.get()) is not None and not self.stopped:
            payload = event_data(event)  # the alert's events.jsonl line
            for problem in (
                send_command(self.cmd, payload) if self.cmd else None,
                send_url(self.url, payload) if self.url else None,
            ):
                if problem:
                    self.warn.append(problem)
            with self.lock:
                self.pending.remove(event)

    def finish(self, wait_s: float = NOTIFY_FLUSH_S) -> list[AlertEvent]:
        """Wait up to ``wait_s`` for the queue to drain; the alerts still undelivered, in order.

        A second Ctrl-C during the wait ends it too: what is left is reported, not lost silently.
        """
        self.queue.put(None)
        with contextlib.suppress(KeyboardInterrupt):
            self.join(timeout=wait_s)
        self.stopped = True  # the thread, if still sending, starts nothing new
        with self.lock:
            return list(self.pending)


def undelivered_warning(events: list[AlertEvent]) -> str:
    """One sentence naming the alerts the notifier did not deliver (the first ten)."""
    names = [f"{e.host} {_who(e)} {e.rule}" for e in events[:10]]
    more = f" and {len(events) - 10} more" if len(events) > 10 else ""
    return (
        f"{len(events)} alert(s) not delivered to --notify/--notify-url within {NOTIFY_FLUSH_S:g} s of the"
        f" watch's end: {'; '.join(names)}{more} (all are in events.jsonl)"
    )


def _who(event: AlertEvent) -> str:
    return "host-wide" if event.pid is None else f"pid {event.pid}"


class Reserve:
    """Disk space held at the start for the final ``run.json``: a full disk still gets its end recorded.

    A preallocated hidden file in the run folder; ``commit`` writes into it (no new block needed when
    the text fits) and renames it over ``run.json``; ``release`` removes it when the normal write worked.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = target.with_name(f".{target.name}.reserve")
        self.fd: int | None = None
        try:
            fd = os.open(
                self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), FILE_MODE
            )
        except OSError:
            return  # no reserve: the final write is then the ordinary one only
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
            self.fd = fd
        except OSError:
            os.close(fd)
            self.path.unlink(missing_ok=True)

    def commit(self, text: str) -> bool:
        """``text`` as ``target`` through the reserved space; False when there was none or it failed."""
        if self.fd is None:
            return False
        data = text.encode("utf-8")
        try:
            os.pwrite(self.fd, data, 0)
            os.ftruncate(self.fd, len(data))
            os.fsync(self.fd)
            os.replace(self.path, self.target)
        except OSError:
            self.release()
            return False
        os.close(self.fd)
        self.fd = None
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.path.unlink(missing_ok=True)
