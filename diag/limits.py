"""The bounds pfdiag puts on what it is given, in one place so the README and the checks agree.

In: nothing (constants) and values to check. Out: the value, or a ``UsageError`` naming the option.
Each bound says why it is where it is; the README's "Limits" section lists them.

>>> finite_positive(2.5, "-T/--timeout")
2.5
>>> finite_positive(float("nan"), "--host-deadline")
Traceback (most recent call last):
...
diag.errors.UsageError: --host-deadline must be a finite number > 0, got nan
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

from diag.errors import UsageError

# Any file pfdiag reads (playbook, vars file, inventory, -e @file, run.json, hosts.jsonl): a real one
# is KiBs; 64 MiB still holds a 100,000-host inventory, and stops `-i /dev/zero`-style reads early.
MAX_INPUT_BYTES = 64 * 1024 * 1024
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
# A process id: Linux's PID_MAX_LIMIT (4,194,304 on 64-bit); kernel.pid_max cannot be set higher.
MAX_PID = 4_194_304
# --workers: each local worker is a Python process (~100 MiB, ~1 s of CPU to import dask and pfdiag),
# and past the controller's cores more of them only share those; 1000000 forked until memory ran out.
MAX_LOCAL_WORKERS = 256
# What is read of one command's stdout and of its stderr per host: a probe prints a few KiB.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
# range() inside a template, and the total items a template's loops may produce.
MAX_RANGE = 100_000
MAX_TEMPLATE_STEPS = 1_000_000


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
    diag.errors.UsageError: interval_s must be a number of seconds from 0.1 to 3600, got 0.01
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
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_N:
        raise UsageError(f"{what} must be a whole number from 1 to {MAX_TOP_N}, got {value!r}")
    return value


def check_workers(value: Any, what: str = "--workers") -> int:
    """A number of local Dask worker processes from 1 to ``MAX_LOCAL_WORKERS``, else ``UsageError``.

    >>> check_workers(2)
    2
    >>> check_workers(1000000)
    Traceback (most recent call last):
    ...
    diag.errors.UsageError: --workers must be a whole number from 1 to 256, got 1000000
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
    diag.errors.UsageError: --scheduler wants tcp://HOST:PORT or tls://HOST:PORT, got 'tcp://[::1'
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
