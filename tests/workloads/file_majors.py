"""File-backed MAJOR page faults without any swap: evict a mapped file's pages, read them back, repeat.

In: ``--name`` (the comm to set), ``--seconds`` (when to stop), ``--mb`` (size of the data file),
``--dir`` (where to create it: must be a disk filesystem such as ext4 or xfs, not tmpfs).
Out: ``READY`` on stdout once the loop is faulting; then it runs until killed or ``--seconds`` expire.

What a host sees: majflt and workingset_refault_file rise, pgpgin and disk reads rise, pswpin does not.
Stdlib only: it can be copied to any host with tests/fixtures/workload_process.py beside it.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, from any cwd: tests.fixtures
from tests.fixtures.workload_process import set_comm, workload_parser

MADV_RANDOM = 1
# Linux 5.4+; Python 3.11's mmap module has no constant for it.
MADV_PAGEOUT = 21


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = workload_parser(__doc__, name="pf (file) maj")
    parser.add_argument("--mb", type=int, default=64, help="size of the data file in MiB")
    parser.add_argument("--dir", default="/var/tmp", help="directory on a disk filesystem (not tmpfs)")
    return parser.parse_args(argv)


def open_clean_data_file(directory: str, size: int) -> int:
    """Create a data file whose pages are clean on disk, unlink it, return an fd that keeps it alive.

    Why fsync: MADV_PAGEOUT only drops clean file pages. Dirty ones are skipped (reclaim outside
    kswapd does not write file pages back), so without it the first rounds would not fault at all.
    Why unlink now: the open fd keeps the inode and its blocks; the file disappears even if this process
    is killed with SIGKILL, so no run leaves 64 MiB behind. Non-zero data so every page is real I/O.
    """
    fd, path = tempfile.mkstemp(prefix="pfdiag-file-majors-", dir=directory)
    try:
        os.unlink(path)
        chunk = os.urandom(1024 * 1024)
        written = 0
        while written < size:
            written += os.write(fd, chunk[: size - written])
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def fault_file(fd: int, size: int, deadline: float) -> None:
    """Page the mapping out, read one byte per page (one major fault each), repeat until the deadline.

    Why MADV_RANDOM: it switches off readahead for the mapping. Without it the first fault reads a
    whole window of pages and the next ~30 accesses are minor faults on pages already in cache.
    """
    page = mmap.PAGESIZE
    data = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    data.madvise(MADV_RANDOM)
    data.madvise(MADV_PAGEOUT)
    print("READY", flush=True)
    while time.monotonic() < deadline:
        data[::page]  # one byte per page, read in C: each is a major fault from disk
        data.madvise(MADV_PAGEOUT)  # clean and mapped only here: the kernel drops them from page cache


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    set_comm(args.name)
    size = args.mb * 1024 * 1024
    fd = open_clean_data_file(args.dir, size)
    fault_file(fd, size, time.monotonic() + args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
