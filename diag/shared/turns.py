"""Turns at the interpreter for the hosts' threads that wait on the SSH event loop.

A fleet's probes answer together, after the same interval: 1,000 engine threads woken at once all want
the GIL, the SSH loop's one thread then gets about one handoff in a thousand, and every session still
on the wire stalls behind the playbooks (measured: 449 of 1,000 simulated hosts timed out in one run).
A host's thread that waits on the loop gives its turn back while it waits and takes one again before
it runs Python once more, so at most ``TURNS`` threads run playbook work at a time and the loop thread
competes with a handful. A thread takes its first turn after its first wait on the loop, not when its
host starts: a host on the local or the paramiko transport never waits on the loop, and holding a turn
through its own waits would let only ``TURNS`` such hosts run at once (measured with the turn taken at
the start: 54 -> 43 s of wall for 1,000 asyncssh hosts under load 5, but that serialises paramiko
hosts). Only the engine's host threads take part (``taking_turns``); any other thread
waiting on the loop (the watch's) is let through as before. In: the engine's host runs and the
loop's waits. Out: nothing but the order in which they get the interpreter.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from diag.shared.limits import TURNS

_turns = threading.BoundedSemaphore(TURNS)
_state = threading.local()


@contextlib.contextmanager
def taking_turns() -> Iterator[None]:
    """This thread waits its turn after each wait on the loop, and gives it back at the end."""
    _state.taking, _state.holding = True, False
    try:
        yield
    finally:
        if _state.holding:
            _turns.release()
        _state.taking, _state.holding = False, False


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """Around a blocking wait on the loop: the turn is free meanwhile, taken again after.

    >>> with taking_turns():
    ...     with waiting():
    ...         pass
    ...     _state.holding
    True
    >>> _state.holding
    False
    """
    if not getattr(_state, "taking", False):
        yield
        return
    if _state.holding:
        _state.holding = False
        _turns.release()
    try:
        yield
    finally:
        _turns.acquire()
        _state.holding = True
