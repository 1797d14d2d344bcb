"""How numbers read to a person: per-second rates, KiB sizes, counts of things.

In: a number (or None / NaN for "not evaluable"). Out: short text. Shared by the playbook templates
(the ``rate`` and ``kib`` filters) and the reports, so a value reads the same everywhere.
"""

from __future__ import annotations

from typing import Any

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
