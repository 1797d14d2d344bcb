"""Charts for the markdown report (``--plots``): fault-rate distributions and the top hosts.

In: a ``FleetView``. Out: PNG files in a folder, written with matplotlib's Agg backend (imported
lazily, only when plots are asked for): ``fault-rates.png`` (histograms of major and minor faults/s
across hosts, log scale, with the host-wide thresholds marked) and ``top-hosts.png`` (the hosts with
the highest rates). Returns the paths written.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from diag.fleet import FleetView
from diag.shared.files import write_text

TOP_HOSTS = 20
RATES = (("majflt_per_s", "major faults/s"), ("minflt_per_s", "minor faults/s"))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _distribution(plt: Any, fleet: FleetView, path: Path) -> None:
    limits = fleet.thresholds()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for axis, (rate, label) in zip(axes, RATES, strict=True):
        values = fleet.hosts[rate].dropna().clip(lower=0).to_numpy()
        top = max(float(values.max()) if values.size else 1.0, limits.get(rate, 1.0)) * 1.5
        bins = np.logspace(-1, np.log10(max(top, 1.0)), 40)
        axis.hist(np.maximum(values, 0.1), bins=bins, color="#4c72b0")
        axis.set_xscale("log")
        axis.set_xlabel(f"{label} (host-wide, log scale)")
        axis.set_ylabel("hosts")
        if rate in limits:
            axis.axvline(
                limits[rate], color="#c44e52", linestyle="--", label=f"threshold {limits[rate]:,.0f}/s"
            )
            axis.legend(loc="upper right", fontsize="small")
    fig.suptitle(f"Fault rates across {len(fleet.hosts):,} hosts")
    fig.tight_layout()
    _save(plt, fig, path)


def _top_hosts(plt: Any, fleet: FleetView, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.25 * TOP_HOSTS + 1.5))
    for axis, (rate, label) in zip(axes, RATES, strict=True):
        top = fleet.hosts[["host", rate]].dropna().sort_values([rate, "host"], ascending=[False, True])
        top = top.head(TOP_HOSTS).iloc[::-1]
        axis.barh(top["host"], top[rate], color="#dd8452")
        axis.set_xlabel(label)
        axis.tick_params(axis="y", labelsize="small")
    fig.suptitle(f"Top {TOP_HOSTS} hosts by fault rate")
    fig.tight_layout()
    _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> None:
    """PNG bytes rendered in memory, written like every run-folder file (0600, never half a file)."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    finally:
        plt.close(fig)
    write_text(path, buffer.getvalue(), what="chart")


def write_plots(fleet: FleetView, out_dir: Path) -> list[Path]:
    """Write both charts into ``out_dir``; return their paths (empty when no host has rates)."""
    if fleet.hosts[["majflt_per_s", "minflt_per_s"]].dropna(how="all").empty:
        return []
    plt = _pyplot()
    paths = [out_dir / "fault-rates.png", out_dir / "top-hosts.png"]
    _distribution(plt, fleet, paths[0])
    _top_hosts(plt, fleet, paths[1])
    return paths
