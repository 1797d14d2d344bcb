"""Formatting of single values for tables: rates, sizes, process labels, markdown-safe text.

Shared by the terminal table and the markdown report so both show numbers the same way.
"""

from __future__ import annotations

from typing import Any

from diag.findings import Culprit


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


def fmt_kib(value: Any) -> str:
    """KiB as a human size.

    >>> fmt_kib(512), fmt_kib(2048), fmt_kib(3 * 1024 * 1024), fmt_kib(None)
    ('512 KiB', '2.0 MiB', '3.0 GiB', 'n/a')
    """
    if value is None or value != value:
        return "n/a"
    kib = float(value)
    for unit, size in (("GiB", 1024 * 1024), ("MiB", 1024)):
        if kib >= size:
            return f"{kib / size:.1f} {unit}"
    return f"{kib:.0f} KiB"


def fmt_value(value: Any) -> str:
    """Any evidence value: numbers as rates, lists joined, None (or NaN) as n/a."""
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return fmt_rate(value)
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) or "none"
    return str(value)


def culprit_label(culprit: Culprit) -> str:
    """``comm[pid] 12/s maj`` or ``… min``, whichever rate named it.

    >>> culprit_label(Culprit(pid=42, comm="pf (x) y", minflt_per_s=150000.0, majflt_per_s=0.0))
    'pf (x) y[42] 150,000 min/s'
    """
    if culprit.majflt_per_s >= 1:
        return f"{culprit.comm}[{culprit.pid}] {fmt_rate(culprit.majflt_per_s)} maj/s"
    return f"{culprit.comm}[{culprit.pid}] {fmt_rate(culprit.minflt_per_s)} min/s"


def md_cell(text: Any) -> str:
    r"""Text safe inside a markdown table cell: pipes escaped, newlines folded.

    >>> md_cell("a|b\nc")
    'a\\|b c'
    """
    return " ".join(str(text).split()).replace("|", "\\|")


def md_code(text: Any) -> str:
    """Inline code that survives backticks in the text (process names can hold anything).

    >>> md_code("java"), md_code("a`b")
    ('`java`', '`` a`b ``')
    """
    value = str(text)
    if "`" in value:
        return f"`` {value} ``"
    return f"`{value}`"
