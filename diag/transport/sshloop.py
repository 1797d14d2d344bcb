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

from diag.shared.limits import LOGINS_IN_FLIGHT
from diag.shared.turns import waiting

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()
_logins: asyncio.Semaphore | None = None


def event_loop() -> asyncio.AbstractEventLoop:
    """The process's SSH loop, started on first use (a daemon thread: it never holds up exit)."""
    global _loop, _logins
    with _lock:
        if _loop is None or _loop.is_closed():
            _logins = None  # an asyncio.Semaphore belongs to the loop it was first used on
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="pfdiag-ssh-loop", daemon=True).start()
            _loop = loop
        return _loop


def login_slots() -> asyncio.Semaphore:
    """The handshakes allowed in flight at once (``LOGINS_IN_FLIGHT``); on the loop only.

    A fleet's handshakes started together share the loop fairly and so all finish at about the same
    time, and every host's probe then starts in the same second: hosts behind one hypervisor (or 200
    sshd on this machine's 2 cores) all run their probes at once, and the first host is done no sooner
    than the last. A few at a time, the first hosts are probing while the others still log in.
    """
    global _logins
    if _logins is None:
        _logins = asyncio.Semaphore(LOGINS_IN_FLIGHT)
    return _logins


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
