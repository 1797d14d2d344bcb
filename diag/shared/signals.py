"""SIGTERM as Ctrl-C: what ``run``, ``audit`` and ``watch`` do while hosts are being contacted.

In: nothing. Out: a context manager under which SIGTERM raises ``KeyboardInterrupt`` in the main
thread, so a stopped run ends the way an interrupted one does (finished hosts on disk, exit 99).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C while a run is in progress (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
