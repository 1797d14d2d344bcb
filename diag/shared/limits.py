"""The bounds pfdiag puts on what it is given, in one place so the README and the checks agree.

In: nothing (constants) and values to check. Out: the value, or a ``UsageError`` naming the option.
Each bound says why it is where it is; the README's "Limits" section lists them.

>>> finite_positive(2.5, "-T/--timeout")
2.5
>>> finite_positive(float("nan"), "--host-deadline")
Traceback (most recent call last):
...
diag.shared.errors.UsageError: --host-deadline must be a finite number > 0, got nan
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

from diag.shared.errors import UsageError

# Any file pfdiag reads (playbook, vars file, inventory, -e @file, run.json, hosts.jsonl): a real one
# is KiBs; 64 MiB still holds a 100,000-host inventory, and stops `-i /dev/zero`-style reads early.
MAX_INPUT_BYTES = 64 * 1024 * 1024
# What pfdiag itself appends to as a run goes (hosts.jsonl, a watch's events.jsonl): about 24 KB a host,
# or a sample a tick; a generous cap, only so that a device or a runaway file is refused instead of
# filling the controller's memory.
MAX_RUN_LOG_BYTES = 4 * 1024**3
# An inventory plugin evaluated by `ansible-inventory` (cloud APIs, CMDBs): a 10,000-instance EC2 account
# pages through its API in about a minute; five minutes is a hung endpoint, not a slow one.
INVENTORY_PLUGIN_TIMEOUT_S = 300.0
# YAML nodes after alias expansion: a "billion laughs" document expands 491 bytes to 10^9 nodes.
MAX_YAML_NODES = 2_000_000
# A YAML document nested deeper than this is refused before Python's recursion limit is hit.
MAX_YAML_DEPTH = 200
# The sampling interval: /proc/uptime has 0.01 s resolution, and below ~0.1 s the probe's own forks
# (awk, cat) are a measurable share of the host's minor faults and read as a minor-storm on an idle
# host. Above an hour a "triage" is a monitoring job; a typo like 1e9 must not hang the run.
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 3600.0
# top-N processes: 0 would rank nothing, and beyond 10,000 the table is no longer a triage.
MAX_TOP_N = 10_000
# The deep dive (``profile``): each process profiled runs perf stat and perf record on its host for the
# interval and a perf report of its data after; a few culprits is a deep dive, thousands are a load.
MAX_PROFILED = 100
# Leaf memory cgroups whose memory.stat the probe reads at each snapshot (per-workload fault rates): the
# kernel builds the file at each read (~0.35 ms here), a Kubernetes node runs ~110 pods of a few
# containers, a systemd host a few hundred units; past 1,024 the rest are not read (and that is said).
MAX_MEMCGS = 1024
# What is read of one container's OCI bundle config.json (or Docker config.v2.json) to find its names:
# the annotations come before the linux section (seccomp profile), 64 KiB holds them in the real ones.
MAX_BUNDLE_BYTES = 64 * 1024
# A process id: Linux's PID_MAX_LIMIT (4,194,304 on 64-bit); kernel.pid_max cannot be set higher.
MAX_PID = 4_194_304
# --workers: each local worker is a Python process (~100 MiB, ~1 s of CPU to import dask and pfdiag),
# and past the controller's cores more of them only share those; 1000000 forked until memory ran out.
MAX_LOCAL_WORKERS = 256
# What is read of one command's stdout and of its stderr per host: a probe prints a few KiB.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
# Host threads that run playbook work at once between waits on the SSH loop (diag.shared.turns): a
# few more than this machine's cores, so a turn is never idle while a host waits for the interpreter.
TURNS = 4
# SSH handshakes (key exchange and authentication) in flight at once on the SSH loop: all 1,000 at
# once finish together, and every host's probe then starts in the same second.
LOGINS_IN_FLIGHT = 16
# Distinct values ``diag.shared.records.shared`` keeps one object of for the hosts' briefs (a fleet's
# kernels, not-evaluable reasons, thresholds): a few dozen in a fleet; past it a new value is not shared.
MAX_SHARED_VALUES = 65_536
# range() inside a template, and the total items a template's loops may produce.
MAX_RANGE = 100_000
MAX_TEMPLATE_STEPS = 1_000_000
# Audit retention. --keep-runs: an audit a minute for 19 years is 10^7; SQLite's integers end at 2^63.
# --keep-days: a century is "keep everything"; beyond ~10^8 days the cutoff is no longer a time.
MAX_KEEP_RUNS = 10_000_000
MAX_KEEP_DAYS = 36_500.0
# --every of a timer or crontab line: OnCalendar and cron express periods that divide a minute, an
# hour or a day, so a whole second up to a day.
MIN_EVERY_S = 1
MAX_EVERY_S = 86_400
# --install-timer NAME: systemd refuses unit names over 255 characters, ".service" included.
MAX_UNIT_NAME_CHARS = 255 - len(".service")


def finite_positive(value: Any, what: str) -> float:
    """``value`` as a finite float > 0, else ``UsageError`` (nan, inf, 0, negatives, non-numbers)."""
    number = as_number(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise UsageError(f"{what} must be a finite number > 0, got {value!r}")
    return number


def as_number(value: Any) -> float | None:
    """An int or float (not bool, not a string) as a float; None for anything else.

    >>> as_number(3), as_number("3"), as_number(True), as_number(1e400)
    (3.0, None, None, inf)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        return math.inf


def check_interval(value: Any, what: str = "interval_s") -> float:
    """A sampling interval within [MIN_INTERVAL_S, MAX_INTERVAL_S] seconds, else ``UsageError``.

    >>> check_interval(1)
    1.0
    >>> check_interval(0.01)
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: interval_s must be a number of seconds from 0.1 to 3600, got 0.01
      hint: below 0.1 s the probe's own forks show up as page faults
    """
    number = as_number(value)
    if number is None or not math.isfinite(number) or not MIN_INTERVAL_S <= number <= MAX_INTERVAL_S:
        raise UsageError(
            f"{what} must be a number of seconds from {MIN_INTERVAL_S:g} to {MAX_INTERVAL_S:g}, "
            f"got {value!r}",
            hint=f"below {MIN_INTERVAL_S:g} s the probe's own forks show up as page faults",
        )
    return number


def check_top_n(value: Any, what: str = "top_n") -> int:
    """A whole number of processes from 1 to ``MAX_TOP_N``, else ``UsageError``.

    >>> check_top_n(20)
    20
    """
    return whole_number(value, what, 1, MAX_TOP_N)


def whole_number(value: Any, what: str, low: int, high: int) -> int:
    """An int (not a bool) from ``low`` to ``high``, else ``UsageError``.

    >>> whole_number(10**21, "--keep-runs", 1, MAX_KEEP_RUNS)
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: --keep-runs must be a whole number from 1 to 10000000, got 1000000000000000000000
    """  # noqa: E501 (a doctest: the exception line is printed whole)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return value


def check_keep_days(value: Any, what: str = "--keep-days") -> float:
    """Days of audits to keep: finite, > 0 and at most ``MAX_KEEP_DAYS``, else ``UsageError``.

    >>> check_keep_days(14)
    14.0
    >>> check_keep_days(1e308)
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: --keep-days must be at most 36500 days (100 years: keep everything), got 1e+308
    """  # noqa: E501 (a doctest: the exception line is printed whole)
    days = finite_positive(value, what)
    if days > MAX_KEEP_DAYS:
        raise UsageError(
            f"{what} must be at most {MAX_KEEP_DAYS:g} days (100 years: keep everything), got {days:g}"
        )
    return days


# --notify-timeout bounds one notifier's whole delivery (connect, send, read): an audit waits for it,
# and a scheduled audit runs every 15 min or so, so past 10 minutes a notifier is hung, not slow.
MAX_NOTIFY_TIMEOUT_S = 600.0
# What is kept of a --notify command's output (stdout and stderr) and read of a --notify-url answer:
# only its end is shown in an error; the rest is read and dropped, so a chatty notifier still ends.
MAX_NOTIFY_OUTPUT_BYTES = 64 * 1024
# An audit id is an SQLite INTEGER (64-bit signed): a larger number is no audit, not an overflow.
MAX_AUDIT_ID = 2**63 - 1


def check_notify_timeout(value: Any, what: str = "--notify-timeout") -> float:
    """Seconds a notifier may take, in (0, ``MAX_NOTIFY_TIMEOUT_S``], else ``UsageError``.

    >>> check_notify_timeout(30.0)
    30.0
    >>> check_notify_timeout(float("inf"))
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: --notify-timeout must be a number of seconds > 0 and at most 600, got inf
    """
    number = as_number(value)
    if number is None or not math.isfinite(number) or not 0 < number <= MAX_NOTIFY_TIMEOUT_S:
        raise UsageError(
            f"{what} must be a number of seconds > 0 and at most {MAX_NOTIFY_TIMEOUT_S:g}, got {value!r}"
        )
    return number


def check_audit_id(text: str) -> int:
    """An audit id as typed (``pfdiag history show RUN``): a whole number from 1 to ``MAX_AUDIT_ID``.

    >>> check_audit_id("3")
    3
    >>> check_audit_id("2" * 20)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: an audit id must be a whole number from 1 to 9223372036854775807, got '222...'
      hint: `pfdiag history` lists the audits
    """  # noqa: E501 (a doctest: the exception line is printed whole)
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_AUDIT_ID:
        raise UsageError(
            f"an audit id must be a whole number from 1 to {MAX_AUDIT_ID}, got {text!r}",
            hint="`pfdiag history` lists the audits",
        )
    return number


def check_workers(value: Any, what: str = "--workers") -> int:
    """A number of local Dask worker processes from 1 to ``MAX_LOCAL_WORKERS``, else ``UsageError``.

    >>> check_workers(2)
    2
    >>> check_workers(1000000)
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: --workers must be a whole number from 1 to 256, got 1000000
      hint: each worker is a process on this machine; for more, run a cluster and use --scheduler
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LOCAL_WORKERS:
        raise UsageError(
            f"{what} must be a whole number from 1 to {MAX_LOCAL_WORKERS}, got {value!r}",
            hint="each worker is a process on this machine; for more, run a cluster and use --scheduler",
        )
    return value


_SCHEDULER = re.compile(r"(tcp|tls)://(\[[^\]]*\]|[^:/\[\]]*):(\d{1,5})")
# a host name as RFC 1123 spells it (labels of letters, digits and inner hyphens); never resolved here
_HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+")


def check_scheduler(value: str, what: str = "--scheduler") -> str:
    """A Dask scheduler address ``tcp://HOST:PORT`` or ``tls://HOST:PORT``, else ``UsageError``.

    HOST is a name, an IPv4 address or an IPv6 address in brackets; nothing is resolved or contacted.

    >>> check_scheduler("tcp://127.0.0.1:8786"), check_scheduler("tls://[::1]:8786")
    ('tcp://127.0.0.1:8786', 'tls://[::1]:8786')
    >>> check_scheduler("tcp://[::1")
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: --scheduler wants tcp://HOST:PORT or tls://HOST:PORT, got 'tcp://[::1'
      hint: HOST is a name, an IPv4 address or an IPv6 address in brackets ([::1]); PORT 1 to 65535
    """
    match = _SCHEDULER.fullmatch(value)
    host = match[2] if match else ""
    ok = match is not None and 1 <= int(match[3]) <= 65535
    if ok and host.startswith("["):
        ok = _is_ip(host[1:-1], ipaddress.IPv6Address)
    elif ok and re.fullmatch(r"[\d.]+", host):
        ok = _is_ip(host, ipaddress.IPv4Address)
    elif ok:
        ok = _HOST_NAME.fullmatch(host) is not None
    if not ok:
        raise UsageError(
            f"{what} wants tcp://HOST:PORT or tls://HOST:PORT, got {value!r}",
            hint="HOST is a name, an IPv4 address or an IPv6 address in brackets ([::1]); PORT 1 to 65535",
        )
    return value


def _is_ip(text: str, kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True
