"""``perf stat -x,`` output, read once for the probe (``perf stat -a`` over the interval) and the deep dive.

In: the CSV lines perf writes to stderr with ``-x,``: ``value,unit,event,run time,percent,...``. Out: one
``PerfCounter`` per event. Two choices made here, for both callers:

- The event is named as it was asked for, without perf's modifier suffix: ``major-faults:u`` (perf adds
  ``:u`` when ``perf_event_paranoid`` keeps it to user space) reads ``major-faults``. A tracepoint keeps
  its ``subsystem:name`` (``exceptions:page_fault_user``): only a suffix of modifier letters is dropped.
- ``<not counted>`` (the counter never ran: the task slept, or multiplexing left it out) and
  ``<not supported>`` (the kernel or PMU has no such event) are *unknown*: a counter with ``count`` None
  and the reason perf gave, never 0 and never silently absent.

Any other line (a blank, a future perf's comment or extra row) is skipped: perf prints its counters one
per line and pfdiag only looks up the events it asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# perf's event modifiers (tools/perf/util/parse-events.l): u k h I G H p P S D W e b R
_MODIFIERS = re.compile(r":[ukhIGHpPSDWebR]+$")
_COUNT = re.compile(r"[0-9]+")
_UNKNOWN = re.compile(r"<(not counted|not supported)>")


@dataclass(frozen=True, slots=True)
class PerfCounter:
    """One ``perf stat`` counter: its count, or None with why perf could not give it."""

    event: str
    count: int | None
    unknown: str | None = None  # "not counted" / "not supported" when count is None


def parse_perf_counters(lines: Iterable[str]) -> dict[str, PerfCounter]:
    """``perf stat -x,`` lines -> counters by event name.

    Real lines of perf 6.1 (``-a``, then unprivileged ``:u`` events, then ``-p 1`` asleep):

    >>> out = parse_perf_counters('''15157,,page-faults,411803905,100.00,,
    ... 0,,major-faults:u,525576,100.00,,
    ... <not supported>,,cycles:u,0,100.00,,
    ... 45,,exceptions:page_fault_user,525576,100.00,,
    ... <not counted>,,minor-faults,0,100.00,,'''.splitlines())
    >>> [(c.event, c.count, c.unknown) for c in out.values()]  # doctest: +NORMALIZE_WHITESPACE
    [('page-faults', 15157, None), ('major-faults', 0, None), ('cycles', None, 'not supported'),
     ('exceptions:page_fault_user', 45, None), ('minor-faults', None, 'not counted')]
    """
    out: dict[str, PerfCounter] = {}
    for line in lines:
        parts = line.split(",")
        if len(parts) < 3 or not parts[2]:
            continue
        value, event = parts[0].strip(), _MODIFIERS.sub("", parts[2].strip())
        if _COUNT.fullmatch(value):
            out[event] = PerfCounter(event, int(value))
        elif unknown := _UNKNOWN.fullmatch(value):
            out[event] = PerfCounter(event, None, unknown[1])
    return out


def parse_perf_stat(text: str) -> dict[str, int | None]:
    """``perf stat -x,`` text -> count by event name (None: not counted or not supported).

    >>> parse_perf_stat('''22038,,page-faults,148420861,100.00,,
    ... 5,,major-faults:u,148420861,100.00,,
    ... <not supported>,,exceptions:page_fault_user,0,100.00,,''')
    {'page-faults': 22038, 'major-faults': 5, 'exceptions:page_fault_user': None}
    """
    return {event: c.count for event, c in parse_perf_counters(text.splitlines()).items()}
