"""What the audit history costs: recording an audit of the 1,000-host synthetic fleet, the diff, reads.

In: ``tests.report.fleets.thousand_fleet`` (recorded runs cloned to 1,000 hosts), ``--audits N``. Out: per
audit the wall seconds of ``History.record`` (one transaction: baseline read, diff, hosts, findings,
problems), of ``diff_runs`` and ``host_series``, and the history file's size after N audits.

Run: ``python -m bench.history_cost --audits 20``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from diag.history.diff import diff_problems
from diag.history.store import History, now_iso
from tests.report.fleets import thousand_fleet

SCOPE = '{"playbook": "audit.yml", "inventory": ["prod/"], "limit": null}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=20)
    args = parser.parse_args()
    run = thousand_fleet()
    records, diffs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite"
        with History(path) as history:
            for _ in range(args.audits):
                run_id = history.begin(SCOPE, run.playbook, run.inventory, None, "")
                start = time.perf_counter()
                history.record(run_id, run, SCOPE, lambda before: diff_problems(before, run.hosts, now_iso()))
                records.append(time.perf_counter() - start)
            start = time.perf_counter()
            diff = history.diff_runs(1, args.audits)
            diffs.append(time.perf_counter() - start)
            start = time.perf_counter()
            series = history.host_series("web007")
            series_s = time.perf_counter() - start
        size = path.stat().st_size + sum(p.stat().st_size for p in Path(tmp).glob("history.sqlite-*"))
    print(f"hosts {len(run.hosts)}, findings/host {len(run.hosts[0].findings)}, audits {args.audits}")
    print(f"record: median {statistics.median(records):.3f} s, max {max(records):.3f} s per audit")
    print(f"history diff 1..{args.audits}: {diffs[0]:.3f} s ({diff.counts()})")
    print(f"history host web007: {series_s * 1000:.1f} ms ({len(series)} rows)")
    print(f"file: {size / 1e6:.1f} MB, {size / args.audits / 1e3:.0f} kB per audit")


if __name__ == "__main__":
    main()
