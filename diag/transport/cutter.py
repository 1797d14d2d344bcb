"""One thread that cuts handshakes at their host deadline, for every host at once.

paramiko takes each handshake stage's timeout up front, so banner + auth together can outlast a
host's deadline; the socket must then be cut from outside. A ``threading.Timer`` per host did it,
one more thread per host in flight (200 hosts: 200 threads) for something that almost never fires.
In: ``arm(at, cut)`` (a ``time.monotonic()`` instant and what to call then), ``disarm(token)``.
Out: ``cut()`` called at ``at`` unless disarmed before, from one daemon thread started on first use.

>>> import time
>>> fired = []
>>> token = CUTTER.arm(time.monotonic() + 0.05, lambda: fired.append("late"))
>>> CUTTER.disarm(CUTTER.arm(time.monotonic() + 0.01, lambda: fired.append("disarmed")))
>>> time.sleep(0.2); fired
['late']
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Cutter:
    """Deadlines in a heap, watched by one thread; a disarmed entry is dropped when it comes up."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._armed: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, at: float, cut: Callable[[], None]) -> int:
        with self._wake:
            token = next(self._tokens)
            heapq.heappush(self._heap, (at, token, cut))
            self._armed.add(token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pfdiag-cutter", daemon=True)
                self._thread.start()
            self._wake.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._wake:
            self._armed.discard(token)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)  # disarmed
                if not self._heap:
                    self._wake.wait()
                    continue
                at, token, cut = self._heap[0]
                left = at - time.monotonic()
                if left > 0:
                    self._wake.wait(left)  # an earlier deadline armed meanwhile wakes it too
                    continue
                heapq.heappop(self._heap)
                self._armed.discard(token)
            with contextlib.suppress(Exception):  # one failed cut must not stop the others' deadlines
                cut()


CUTTER = Cutter()
