"""Parse the probe's ``memcg`` line: the memory cgroup of a top process, its limit and usage.

In: one line the probe writes after reading the cgroup's files (v1 ``memory.limit_in_bytes``,
``usage_in_bytes``, ``failcnt``, ``oom_control``; v2 ``memory.max``, ``high``, ``current``, ``events``).
Out: a ``MemCgroup`` in KiB, with ``limit_kib`` None when the cgroup is unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass

from diag.shared.errors import ParseError

# v1 prints PAGE_COUNTER_MAX * PAGE_SIZE (9223372036854771712 on x86_64) for "no limit"; anything
# this large is no limit on any real machine.
UNLIMITED_BYTES = 1 << 60


@dataclass(frozen=True, slots=True)
class MemCgroup:
    """A memory cgroup as seen from one of its processes."""

    version: int
    path: str
    limit_kib: int | None
    high_kib: int | None
    usage_kib: int | None
    limit_hits: int | None  # v1 failcnt, v2 memory.events "max": times usage hit the limit
    oom_kills: int | None
    usage_pct: float | None = None  # usage as percent of the limit, 1 decimal; None without a limit


def _usage_pct(usage_kib: int | None, limit_kib: int | None) -> float | None:
    if not limit_kib or usage_kib is None:
        return None
    return round(100.0 * usage_kib / limit_kib, 1)


def _kib(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()) or int(text) >= UNLIMITED_BYTES:
        return None  # "max", empty (file missing) or the v1 "unlimited" value
    return int(text) // 1024


def _count(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def parse_memcg(line: str) -> MemCgroup:
    """``memcg VERSION key=value ... path=PATH`` -> MemCgroup (the path may hold spaces: it is last).

    >>> cg = parse_memcg("memcg 1 limit=67108864 usage=66981888 hits=5120 oom_kill=0 path=/pf test")
    >>> cg.path, cg.limit_kib, cg.usage_kib, cg.usage_pct, cg.limit_hits
    ('/pf test', 65536, 65412, 99.8, 5120)
    >>> parse_memcg("memcg 2 limit=max high=max usage=1048576 hits=0 oom_kill=0 path=/user.slice").limit_kib
    >>> parse_memcg("memcg 1 limit=9223372036854771712 usage=4096 hits=0 oom_kill= path=/").oom_kills
    """
    head, sep, path = line.partition(" path=")
    words = head.split()
    if not sep or len(words) < 2 or words[0] != "memcg" or words[1] not in ("1", "2"):
        raise ParseError(f"expected 'memcg 1|2 key=value ... path=PATH': {line!r}", where="probe memcg")
    values = dict(word.partition("=")[::2] for word in words[2:])
    limit, usage = _kib(values.get("limit", "")), _kib(values.get("usage", ""))
    return MemCgroup(
        version=int(words[1]),
        path=path,
        limit_kib=limit,
        high_kib=_kib(values.get("high", "")),
        usage_kib=usage,
        limit_hits=_count(values.get("hits", "")),
        oom_kills=_count(values.get("oom_kill", "")),
        usage_pct=_usage_pct(usage, limit),
    )
