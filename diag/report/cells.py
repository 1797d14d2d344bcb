"""Formatting of single values for tables: rates, sizes, process labels (markdown-safe text:
``diag.shared.escape``).

Shared by the terminal table and the markdown report so both show numbers the same way.
"""

from __future__ import annotations

from typing import Any

from diag.findings import Culprit
from diag.shared.escape import md_cell, md_code
from diag.shared.units import fmt_kib, fmt_rate

__all__ = ["culprit_label", "fmt_kib", "fmt_rate", "fmt_value", "md_cell", "md_code"]


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


def culprit_label(culprit: Culprit, verdict: str | None = None) -> str:
    """``comm[pid] 12 maj/s`` or ``… min/s``: the rate the verdict is about, else the major rate if any.

    >>> storm = Culprit(pid=42, comm="pf (x) y", minflt_per_s=150000.0, majflt_per_s=4.9)
    >>> culprit_label(storm, "minor-storm"), culprit_label(storm)
    ('pf (x) y[42] 150,000 min/s', 'pf (x) y[42] 4.9 maj/s')
    """
    if verdict == "minor-storm":
        return _label(culprit, culprit.minflt_per_s, culprit.children_minflt_per_s, "min/s")
    if culprit.total_majflt_per_s >= 1 or (verdict or "").startswith("major-"):
        return _label(culprit, culprit.majflt_per_s, culprit.children_majflt_per_s, "maj/s")
    return _label(culprit, culprit.minflt_per_s, culprit.children_minflt_per_s, "min/s")


def _label(culprit: Culprit, own: float, children: float, unit: str) -> str:
    """``comm[pid] RATE unit``, plus the rate of its exited children when they faulted.

    >>> batch = Culprit(pid=812, comm="batch (runner)", minflt_per_s=2300.0, majflt_per_s=0.0)
    >>> _label(batch, 2300.0, 210000.0, "min/s")
    'batch (runner)[812] 2,300 min/s + 210,000/s in exited children'
    """
    text = f"{culprit.comm}[{culprit.pid}] {fmt_rate(own)} {unit}"
    text += f" + {fmt_rate(children)}/s in exited children" if children else ""
    return text + workload_suffix(culprit)


def workload_suffix(culprit: Culprit) -> str:
    """`` in pod shop/checkout-7d9f8-x2bq4 container cart-api`` (or a unit, a container) when the culprit's
    memory cgroup names one; nothing for a plain cgroup.

    >>> from diag.probe.workload import name_cgroup
    >>> web = Culprit(pid=7, comm="nginx", minflt_per_s=1.0, majflt_per_s=0.0,
    ...               workload=name_cgroup("/system.slice/nginx.service"))
    >>> workload_suffix(web)
    ' in unit nginx.service'
    """
    w = culprit.workload
    return f" in {w.label}" if w is not None and w.named else ""
