"""Short-lived children that fault: a parent forks ~50 workers a second, each writes fresh anonymous
memory (one minor fault per page) and exits at once; the parent reaps them.

In: ``--name`` (the parent's comm), ``--seconds`` (when to stop), ``--mb`` (memory each child touches),
``--rate`` (children per second). Out: ``READY`` on stdout once the first child has been reaped; then it
runs until killed or ``--seconds`` expire.

No child lives across a probe's two samples, so only the parent's ``cminflt`` (the faults of the
children it reaped, /proc/PID/stat field 11) shows the storm; the parent itself barely faults. This is
the batch runner / CGI server / ``make -j`` of issue 7. Stdlib only: it can be copied to any host with
tests/fixtures/workload_process.py beside it and run with any Python 3.11.
"""

from __future__ import annotations

import mmap
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, from any cwd: tests.fixtures
from tests.fixtures.workload_process import die_with_parent, set_comm, workload_parser

MADV_NOHUGEPAGE = 15


def child(size: int) -> None:
    """Touch ``size`` bytes of fresh anonymous memory, one write per page, and leave without cleanup.

    MADV_NOHUGEPAGE so every 4 KiB page is one fault whatever the THP setting; ``os._exit`` so the
    child runs none of the parent's Python teardown.
    """
    try:
        die_with_parent()
        region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        region.madvise(MADV_NOHUGEPAGE)
        region[:: mmap.PAGESIZE] = b"\x01" * (size // mmap.PAGESIZE)
    finally:
        os._exit(0)


def storm(size: int, rate: float, deadline: float) -> None:
    """Fork a child every 1/rate s and reap it before the next, until the deadline."""
    period = 1.0 / rate
    ready = False
    next_start = time.monotonic()
    while time.monotonic() < deadline:
        pid = os.fork()
        if pid == 0:
            child(size)
        os.waitpid(pid, 0)  # reaping adds the child's faults to our cminflt
        if not ready:
            print("READY", flush=True)
            ready = True
        next_start += period
        time.sleep(max(0.0, next_start - time.monotonic()))


def main(argv: list[str]) -> int:
    parser = workload_parser(__doc__, name="batch (runner)")
    parser.add_argument("--mb", type=int, default=16, help="MiB of anonymous memory each child writes")
    parser.add_argument("--rate", type=float, default=50.0, help="children per second")
    args = parser.parse_args(argv)
    set_comm(args.name)
    storm(args.mb * 1024 * 1024, args.rate, time.monotonic() + args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
