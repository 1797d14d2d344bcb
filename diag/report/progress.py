"""The fleet progress line: finished hosts in, one self-overwriting terminal line out.

In: the number of hosts, then each ``HostResult`` as it finishes. Out: on a terminal (the stream's
``isatty()``) and for more than one host, ``\\r[done/total] ok=N failed=N unreachable=N ...`` on that
stream, redrawn as hosts finish and erased by ``clear()`` before the final table is printed. Not a
terminal (a pipe, a log file, CI) or a single host: nothing is written at all.
"""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from diag.findings import HOST_STATES, UNREACHABLE_STATES, HostResult

ERASE_LINE = "\r\033[K"


class Progress:
    """``[done/total] ok=.. failed=.. unreachable=..`` on a terminal; silent everywhere else."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.stream = stream
        self.enabled = stream is not None and total > 1 and _isatty(stream)
        self.states: Counter[str] = Counter()
        self.shown = False

    def line(self) -> str:
        """The text of the line (without the carriage return).

        >>> p = Progress(6, None)
        >>> p.states.update(["ok", "ok", "unreachable", "hostkey-changed", "timeout"])
        >>> p.line()
        '[5/6] ok=2 failed=0 unreachable=2 hostkey-changed=1 timeout=1'
        """
        done = sum(self.states.values())
        unreachable = sum(self.states[s] for s in UNREACHABLE_STATES)
        parts = [f"[{done}/{self.total}]", f"ok={self.states['ok']}", f"failed={self.states['failed']}"]
        parts.append(f"unreachable={unreachable}")
        # The kinds of unreachable beyond a plain one, and every other state seen, in HOST_STATES order.
        shown = ("ok", "failed", "unreachable")
        parts += [f"{s}={self.states[s]}" for s in HOST_STATES if s not in shown and self.states[s]]
        return " ".join(parts)

    def host_done(self, result: HostResult) -> None:
        """Count a finished host and redraw the line."""
        self.states[result.status] += 1
        self.draw()

    def draw(self) -> None:
        if not self.enabled or self.stream is None:
            return
        self.stream.write(ERASE_LINE + self.line())
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line (before other output, and at the end of the run)."""
        if self.shown and self.stream is not None:
            self.stream.write(ERASE_LINE)
            self.stream.flush()
            self.shown = False


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or odd stream is not a terminal
        return False
