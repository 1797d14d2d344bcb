"""CPU per render of the 1,000-host synthetic run: frames, markdown, CSV, JSON (and charts with --plots).

In: the fleet built by ``tests.report.fleets.thousand_fleet`` from the recorded runs in
tests/data/runs/, ``--rounds N``. Out: one line per stage with the CPU seconds per render
(``time.process_time``, best and mean of N); the first round is a warm-up and not counted.

Run: ``python -m bench.render_report --rounds 5 [--plots]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diag.fleet import build_fleet
from diag.report.csv_export import render_csvs
from diag.report.files import render_json
from diag.report.markdown import render_markdown
from tests.report.fleets import thousand_fleet


def cpu(action: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    start = time.process_time()
    result = action(*args)
    return time.process_time() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--plots", action="store_true", help="also time the two PNG charts")
    args = parser.parse_args()
    run = thousand_fleet()
    stages = ["frames", "markdown", "csv", "json"] + (["plots"] if args.plots else [])
    times: dict[str, list[float]] = {stage: [] for stage in stages}
    with tempfile.TemporaryDirectory(prefix="pfdiag-bench-") as tmp:
        for round_no in range(args.rounds + 1):
            spent: dict[str, float] = {}
            spent["frames"], fleet = cpu(build_fleet, run)
            spent["markdown"], _ = cpu(render_markdown, run, fleet)
            spent["csv"], _ = cpu(render_csvs, fleet)
            spent["json"], _ = cpu(render_json, run, fleet)
            if args.plots:
                from diag.report.plots import write_plots

                spent["plots"], _ = cpu(write_plots, fleet, Path(tmp))
            if round_no > 0:
                for stage in stages:
                    times[stage].append(spent[stage])
    print(f"{len(run.hosts)} hosts, {args.rounds} rounds after a warm-up; CPU seconds per render:")
    for stage in stages:
        print(f"  {stage:<9} best {min(times[stage]):.3f}  mean {statistics.mean(times[stage]):.3f}")
    report = [sum(t) for t in zip(times["frames"], times["markdown"], strict=True)]
    print(f"  report.md (frames + markdown) best {min(report):.3f}  mean {statistics.mean(report):.3f}")


if __name__ == "__main__":
    main()
