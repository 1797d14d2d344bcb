"""Each SSH host's own asyncio event loop, run in the thread that calls in: no thread per connection.

paramiko gives each connection a transport thread of its own (200 hosts: 200 more threads contending
for the GIL, ~240 context switches per host). Here a host's connection, commands and streams live on
a loop that only runs while the host's engine thread waits for them (``call``): the thread that would
block on the answer does the SSH work itself, and no other thread exists. One loop for the whole
process in a thread of its own was tried first (the design asked for in issue 19): it cost the same
CPU but, with 1,000 engine threads contending for the GIL, that one thread got too few turns and the
fleet's wall grew by a third (bench/README.md, "Would another SSH layer get there?").
In: coroutines. Out: their results (or exceptions), in the caller's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class HostLoop:
    """One host's event loop: ``call`` runs a coroutine on it in the calling thread, one caller at a
    time; ``interrupt`` reaches it from another thread while a call runs (an interrupted run closing
    its hosts' connections).

    >>> async def add(a: int, b: int) -> int:
    ...     return a + b
    >>> loop = HostLoop()
    >>> loop.call(add(2, 3))
    5
    >>> loop.close()
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(coroutine)

    def interrupt(self, action: Callable[[], None]) -> bool:
        """Run ``action`` (plain, not a coroutine) on the loop if a call is running in another thread
        now, and say so; False when none runs (the caller may then ``call`` itself)."""
        if self._lock.acquire(blocking=False):
            self._lock.release()
            return False
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        loop.call_soon_threadsafe(action)
        return True

    def close(self) -> None:
        """Release the loop's descriptors; a later ``call`` starts a new loop."""
        with self._lock:
            loop, self._loop = self._loop, None
            if loop is not None:
                loop.close()
