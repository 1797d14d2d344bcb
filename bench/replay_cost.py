"""What a replay costs: `pfdiag run triage --replay` of an N-host recording, wall, CPU and peak memory.

The recording is tests/data/runs/quiet (5 real hosts, their answers as this pfdiag's probe would send
them: ``bench.simhosts.as_sent_now``) cloned and renamed to N hosts in 10 groups;
each size runs in a fresh `python -m diag` (start-up and report included), `--rounds` times.

    python bench/replay_cost.py --sizes 200,1000 --rounds 3
    python bench/replay_cost.py --sizes 1000,10000 --rounds 1 --exports   # with --json and --csv too
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUIET = REPO / "tests" / "data" / "runs" / "quiet"


def make_recording(folder: Path, n: int) -> Path:
    if str(REPO) not in sys.path:  # run as a script: bench/ is on the path, the repository is not
        sys.path.insert(0, str(REPO))
    from bench.simhosts import as_sent_now

    entries = [json.loads(line) for line in (QUIET / "hosts.jsonl").read_text().splitlines()]
    for entry in entries:  # each answer as this pfdiag's probe sends it (see simhosts.as_sent_now)
        if entry.get("raw"):
            entry["raw"] = as_sent_now(entry["raw"])
    folder.mkdir(parents=True)
    (folder / "run.json").write_text((QUIET / "run.json").read_text())
    with (folder / "hosts.jsonl").open("w") as out:
        for i in range(n):
            entry = entries[i % len(entries)]
            name = f"h{i:04d}"
            result = {**entry["result"], "host": name, "group_names": [f"g{i % 10}"]}
            out.write(json.dumps({**entry, "host": name, "result": result}) + "\n")
    return folder


def replay_once(recording: Path, out: Path, exports: bool = False) -> tuple[float, float, float]:
    """Wall s, CPU s and peak RSS MiB (``wait4``'s ``ru_maxrss``) of one replay process."""
    out.mkdir(parents=True)
    started = time.perf_counter()
    argv = [sys.executable, "-m", "diag", "run", "triage", "--replay", str(recording), "-o", str(out / "run")]
    if exports:
        argv += ["--json", str(out / "run.json"), "--csv", str(out / "csv")]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the replay of {recording} exited {proc.returncode}")
    wall = time.perf_counter() - started
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200", help="host counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--exports", action="store_true", help="write --json and --csv as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pfdiag-replay-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            recording = make_recording(Path(tmp) / f"rec{n}", n)
            runs = [
                replay_once(recording, Path(tmp) / f"out{n}-{r}", args.exports) for r in range(args.rounds)
            ]
            walls, cpus, peaks = [w for w, _, _ in runs], [c for _, c, _ in runs], [p for _, _, p in runs]
            print(f"{n:5d} hosts: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}),"
                  f" CPU median {statistics.median(cpus):.2f} s, peak RSS max {max(peaks):.0f} MiB,"
                  f" load {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
