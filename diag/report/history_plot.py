"""A host's fault rates over its recorded audits, as a PNG (``pfdiag history host HOST --plot PATH``).

In: the host's rows from the history (time, major and minor faults/s per audit) and the host-wide
thresholds of the audit playbook. Out: one PNG written with matplotlib's Agg backend (the ``plots``
extra), major and minor rates on log scales with each threshold drawn as a dashed line.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from diag.history.rows import HostPoint
from diag.shared.errors import UsageError
from diag.shared.files import write_text
from diag.shared.units import parse_stamp

SERIES = (
    ("majflt_per_s", "host_majflt_per_s", "major faults/s"),
    ("minflt_per_s", "host_minflt_per_s", "minor faults/s"),
)


def plot_host_rates(
    host: str, rows: Sequence[HostPoint], thresholds: Mapping[str, float], path: Path
) -> Path:
    """Write the trend of ``host``'s major and minor fault rates to ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib", hint="pip install 'pfdiag[plots]'") from None
    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    for axis, (rate, limit, label) in zip(axes, SERIES, strict=True):
        # a row whose stamp does not read (a hand-edited history) has no place on the time axis
        stamped = [(parse_stamp(r.started), getattr(r, rate)) for r in rows]
        points = [(when, float(value)) for when, value in stamped if when is not None and value is not None]
        if points:
            axis.plot([t for t, _ in points], [max(v, 0.1) for _, v in points], marker="o", color="#4c72b0")
        axis.axhline(
            thresholds[limit], color="#c44e52", linestyle="--", label=f"threshold {thresholds[limit]:g}"
        )
        axis.set_yscale("log")
        axis.set_ylabel(label)
        axis.legend(loc="upper left", fontsize="small")
    axes[0].set_title(f"{host}: page faults per audit")
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=100)
    finally:
        plt.close(fig)
    write_text(path, buffer.getvalue(), what="the plot")
    return path
