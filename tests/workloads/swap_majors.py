"""Swap-in MAJOR page faults: an anonymous working set larger than its memory cgroup's limit.

In: ``--name`` (the comm to set), ``--seconds`` (when to stop), ``--mb`` (working set in MiB),
``--cgroup`` (a memory cgroup directory whose limit is below ``--mb``; the caller creates it and enables
swap). Out: ``READY`` on stdout once the working set is partly swapped out and the read loop starts;
then it runs until killed or ``--seconds`` expire.

What a host sees: majflt and pswpin rise together. Without swap the cgroup would OOM-kill this process
instead. Stdlib only: it can be copied to any host with tests/fixtures/workload_process.py beside it.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, from any cwd: tests.fixtures
from tests.fixtures.workload_process import set_comm, workload_parser

MADV_NOHUGEPAGE = 15


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = workload_parser(__doc__, name="pf (swap) maj")
    parser.add_argument("--mb", type=int, default=128, help="working set in MiB (above the cgroup limit)")
    parser.add_argument("--cgroup", required=True, help="memory cgroup directory to join before allocating")
    return parser.parse_args(argv)


def join_cgroup(directory: str) -> None:
    """Move this process into the cgroup before it allocates anything.

    Joining first matters on cgroup v1: memory charged before a move stays with the old cgroup
    (memory.move_charge_at_immigrate is 0 by default), so the limit would not bite on the working set.
    """
    with open(os.path.join(directory, "cgroup.procs"), "w") as procs:
        procs.write(str(os.getpid()))


def thrash(size: int, deadline: float) -> None:
    """Fill the working set, then read one byte per page in order until the deadline.

    Reading in order through a set twice the limit evicts each page shortly before it is needed again,
    so (nearly) every access is a swap-in. Each page gets a non-zero byte: recent kernels (6.12+) do not
    write zero-filled pages to swap at all and "read" them back without I/O, so pswpin would not move.
    MADV_NOHUGEPAGE keeps swap-in per 4 KiB page whatever the host's THP setting is.
    """
    page = mmap.PAGESIZE
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.madvise(MADV_NOHUGEPAGE)
    region[::page] = b"\x01" * (size // page)  # past the limit this already pushes pages to swap
    print("READY", flush=True)
    while time.monotonic() < deadline:
        region[::page]  # one byte per page, read in C: each evicted page is a major fault from swap


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    set_comm(args.name)
    join_cgroup(args.cgroup)
    thrash(args.mb * 1024 * 1024, time.monotonic() + args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
