"""Anonymous-memory storm: many MINOR page faults per second and next to no major ones.

In: ``--name`` (the comm to set), ``--seconds`` (when to stop), ``--mb`` (size of the region).
Out: ``READY`` on stdout once the loop is faulting; then it runs until killed or ``--seconds`` expire.

Each round maps fresh anonymous memory, writes one byte per page (one minor fault per page: the kernel
allocates and zeroes a page, no I/O) and drops it again with MADV_DONTNEED, so the next round faults
every page anew. Stdlib only: it can be copied to any host with tests/fixtures/workload_process.py beside
it and run with any Python 3.11.
"""

from __future__ import annotations

import argparse
import mmap
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, from any cwd: tests.fixtures
from tests.fixtures.workload_process import set_comm, workload_parser

# Python 3.11's mmap has MADV_DONTNEED but spell out the numbers for the rarer ones next to it.
MADV_DONTNEED = 4
MADV_NOHUGEPAGE = 15


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = workload_parser(__doc__, name="pf (storm) x")
    parser.add_argument("--mb", type=int, default=64, help="size of the anonymous region in MiB")
    return parser.parse_args(argv)


def storm(size: int, deadline: float) -> None:
    """Fault every page of an anonymous region, drop it, repeat until the deadline.

    MADV_NOHUGEPAGE: with THP a single fault can map 2 MiB, which would turn 512 minor faults into one;
    the storm has to count per 4 KiB page whatever the host's THP setting is. Writes, not reads: a read
    of an untouched anonymous page maps the shared zero page once and never faults again.
    """
    page = mmap.PAGESIZE
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.madvise(MADV_NOHUGEPAGE)
    ones = b"\x01" * (size // page)
    ready = False
    while time.monotonic() < deadline:
        region[::page] = ones  # one byte per page, written in C: the loop is the kernel's, not Python's
        region.madvise(MADV_DONTNEED)  # frees the pages: the next write faults each of them again
        if not ready:
            print("READY", flush=True)
            ready = True


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    set_comm(args.name)
    storm(args.mb * 1024 * 1024, time.monotonic() + args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
