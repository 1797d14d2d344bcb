"""The one asyncio event loop every asyncssh connection of the process runs on, in one daemon thread.

paramiko gives each connection a transport thread of its own (200 hosts: 200 more threads contending
for the GIL, ~240 context switches per host); here every host's connection, commands and streams share
one loop. The engine keeps its thread per host and calls in synchronously: ``call(coroutine)`` runs
the coroutine on the loop and blocks the calling thread until it is done, returning its value or
raising its exception. In: coroutines. Out: their results, in the caller's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from diag.shared.turns import waiting

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def event_loop() -> asyncio.AbstractEventLoop:
    """The process's SSH loop, started on first use (a daemon thread: it never holds up exit)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="pfdiag-ssh-loop", daemon=True).start()
            _loop = loop
        return _loop


def call(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the SSH loop and wait for it here; its exception is raised here too.

    Not callable from the loop's own thread (it would wait for itself).

    >>> async def add(a: int, b: int) -> int:
    ...     return a + b
    >>> call(add(2, 3))
    5
    """
    future = asyncio.run_coroutine_threadsafe(coroutine, event_loop())
    with waiting():
        return future.result()


def submit(coroutine: Coroutine[Any, Any, object]) -> None:
    """Start ``coroutine`` on the SSH loop without waiting for it (closing a connection: the host is
    done, and its thread need not wait out the server's goodbye)."""
    asyncio.run_coroutine_threadsafe(coroutine, event_loop())
