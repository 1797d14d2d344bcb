"""How numbers and moments read, and how a person writes a duration.

In: a number (or None / NaN for "not evaluable"). Out: short text. Shared by the playbook templates
(the ``rate`` and ``kib`` filters) and the reports, so a value reads the same everywhere. And the one
duration grammar (``90``, ``90s``, ``5m``, ``5min``, ``1.5h``, ``1d``) every flag taking a duration
parses with (``watch --cooldown/--duration``, ``audit --renotify-after/--every``): two parsers had
drifted, and ``--cooldown 5min`` was refused where ``--renotify-after 5min`` worked. Timestamps have
their own block at the end: every stamp pfdiag writes or reads goes through it.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from diag.shared.errors import UsageError

# No machine has an exabyte: larger sizes are "no limit" sentinels (RLIM_INFINITY / 1024).
UNLIMITED_KIB = float(1 << 50)


def fmt_rate(value: Any) -> str:
    """A per-second rate with a thousands separator; ``n/a`` where it was not evaluable.

    >>> fmt_rate(152340.456), fmt_rate(3.14159), fmt_rate(0), fmt_rate(None), fmt_rate(float("nan"))
    ('152,340', '3.1', '0', 'n/a', 'n/a')
    """
    if value is None:
        return "n/a"
    number = float(value)
    if number != number:  # NaN: pandas' "missing"
        return "n/a"
    if number == 0:
        return "0"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:,.1f}"


def plural(n: int, word: str) -> str:
    """A count and a noun.

    >>> plural(1, "host"), plural(3, "audit"), plural(1200, "host")
    ('1 host', '3 audits', '1,200 hosts')
    """
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def fmt_kib(value: Any) -> str:
    """KiB as a human size; RLIM_INFINITY-sized values (unlimited memlock) read ``unlimited``.

    >>> fmt_kib(512), fmt_kib(2048), fmt_kib(3 * 1024 * 1024), fmt_kib(None), fmt_kib(18014398509481983)
    ('512 KiB', '2.0 MiB', '3.0 GiB', 'n/a', 'unlimited')
    """
    if value is None or value != value:
        return "n/a"
    kib = float(value)
    if kib >= UNLIMITED_KIB:
        return "unlimited"
    for unit, size in (("GiB", 1024 * 1024), ("MiB", 1024)):
        if kib >= size:
            return f"{kib / size:.1f} {unit}"
    return f"{kib:.0f} KiB"


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*")
_SECONDS_PER = {"": 1, "s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60}
_SECONDS_PER |= {"h": 3600, "hr": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}


def parse_duration(text: str, flag: str) -> float:
    """Seconds from a duration: a number and an optional unit (a bare number is seconds).

    >>> parse_duration("90", "--duration"), parse_duration("90s", "x"), parse_duration("5m", "x")
    (90.0, 90.0, 300.0)
    >>> parse_duration("5min", "--cooldown"), parse_duration("1.5h", "x"), parse_duration(" 1 days", "x")
    (300.0, 5400.0, 86400.0)
    """
    match = _DURATION.fullmatch(text)
    if not match or match[2] not in _SECONDS_PER:
        raise UsageError(f"{flag}: {text!r} is not a duration", hint="e.g. 90, 90s, 5min, 4h, 1d")
    return float(match[1]) * _SECONDS_PER[match[2]]


# --- Timestamps -----------------------------------------------------------------------------------
# One owner for how pfdiag writes and reads a moment. Runs, audits and the history store write local
# time with its numeric offset (``2026-12-01T19:20:04+0000``); run folders carry a compact local stamp
# (``20261201-192004``); watch events carry UTC with milliseconds (``2026-12-01T19:20:04.123Z``).
# Files written by earlier versions hold these exact strings, so the formats never change.

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
FOLDER_STAMP_FORMAT = "%Y%m%d-%H%M%S"


def now_stamp() -> str:
    """Now, in local time with its offset, as runs and audits record ``started`` / ``finished``.

    >>> import re; bool(re.fullmatch(r"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[+-]\\d{4}", now_stamp()))
    True
    """
    return time.strftime(STAMP_FORMAT)


def folder_stamp() -> str:
    """Now, compact and sortable, for a run folder's name (``reports/20261201-192004-triage``).

    >>> import re; bool(re.fullmatch(r"\\d{8}-\\d{6}", folder_stamp()))
    True
    """
    return time.strftime(FOLDER_STAMP_FORMAT)


def utc_stamp_ms() -> str:
    """Now, in UTC with milliseconds and a ``Z``, as the watch stamps its events.

    >>> import re; bool(re.fullmatch(r"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z", utc_stamp_ms()))
    True
    """
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_stamp(stamp: str | None) -> datetime | None:
    """A stamp from ``now_stamp`` back to an aware datetime; None when absent or not such a stamp.

    Stored stamps come from files a person may have edited, so a bad one reads as "unknown".

    >>> parse_stamp("2026-12-01T19:20:04+0100").isoformat()
    '2026-12-01T19:20:04+01:00'
    >>> parse_stamp(None), parse_stamp(""), parse_stamp("yesterday")
    (None, None, None)
    """
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp, STAMP_FORMAT)
    except ValueError:
        return None


def stamp_seconds(stamp: str | None) -> float | None:
    """A stamp from ``now_stamp`` as Unix seconds; None when absent or unreadable.

    >>> [stamp_seconds(s) for s in ("1970-01-02T00:00:00+0000", "1970-01-02T01:00:00+0100", None)]
    [86400.0, 86400.0, None]
    """
    parsed = parse_stamp(stamp)
    return None if parsed is None else parsed.timestamp()


def rfc3339(stamp: str | None) -> str | None:
    """A stamp from ``now_stamp`` in RFC 3339 (a colon in the offset); None when absent or unreadable.

    >>> rfc3339("2026-12-01T19:20:04+0000"), rfc3339("garbage")
    ('2026-12-01T19:20:04+00:00', None)
    """
    parsed = parse_stamp(stamp)
    return None if parsed is None else parsed.isoformat()
