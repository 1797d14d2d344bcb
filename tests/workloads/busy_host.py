"""A healthy but busy host: the ordinary activity that a page-fault verdict must not call a problem.

In: ``--seconds`` (when to stop), ``--python`` (the interpreter the checks and the service start).
Out: ``READY`` on stdout once all three loops run; then it runs until killed or ``--seconds`` expire.

Three loops, as on a monitored server (issue 16):
- a monitoring agent: a shell running ``ps -e`` and ``cat /proc/meminfo`` then a short sleep,
  ~15-20 short commands a second (each a fork + exec: hundreds of minor faults);
- a check script: a shell starting a Python interpreter every 2 s (~9,400 minor faults each);
- a service restarting every 2 s, 1 s after the check: a Python process that imports its modules and
  touches 32 MiB of fresh memory as it starts (~17,000 minor faults), then serves (sleeps).
So every interval of 1 s or more sees a process start, and the shells reap children at thousands of
minor faults a second, over the guide's 1,000/s, while costing a few ms of CPU a second.
Stdlib only: it can be copied to any host with tests/fixtures/workload_process.py beside it.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, from any cwd: tests.fixtures
from tests.fixtures.workload_process import die_with_parent, workload_parser

SERVICE = (
    "import json, sqlite3, http.server, mmap, time; "
    "m = mmap.mmap(-1, 32 << 20); m[:: mmap.PAGESIZE] = b'\\1' * ((32 << 20) // mmap.PAGESIZE); "
    "time.sleep(1.5)"
)


def loops(python: str) -> list[str]:
    """The three shell loops (the monitoring agent, the check script, the service's supervisor)."""
    py = shlex.quote(python)
    return [
        "while :; do ps -e >/dev/null; cat /proc/meminfo >/dev/null; sleep 0.15; done",
        f"while :; do {py} -c pass & sleep 2; wait; done",
        f"sleep 1; while :; do {py} -c {shlex.quote(SERVICE)} & sleep 2; wait; done",
    ]


def main(argv: list[str]) -> int:
    parser = workload_parser(__doc__, name=None, seconds=60.0)
    parser.add_argument("--python", default=sys.executable, help="interpreter the loops start")
    args = parser.parse_args(argv)
    die_with_parent()
    procs = [subprocess.Popen(["sh", "-c", loop], preexec_fn=die_with_parent) for loop in loops(args.python)]
    print("READY", flush=True)
    try:
        time.sleep(args.seconds)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
