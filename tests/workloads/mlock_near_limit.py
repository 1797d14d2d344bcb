"""A process that locks memory up to ~95 % of its own "Max locked memory", and keeps faulting a little.

In: ``--name`` (the comm to set), ``--seconds``, ``--limit-kib`` (RLIMIT_MEMLOCK it sets on itself, soft
and hard: lowering is always allowed), ``--lock-kib`` (how much it mlock()s). Out: ``READY`` once the
region is locked (VmLck shows it); then it touches a small scratch buffer a few thousand times per second,
so it ranks among the faulting processes the sample reports, until killed or ``--seconds`` expire.
Standalone on purpose (stdlib only), like the other workloads.
"""

from __future__ import annotations

import ctypes
import mmap
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, from any cwd: tests.fixtures
from tests.fixtures.workload_process import set_comm, workload_parser

MADV_DONTNEED = 4


def main(argv: list[str]) -> int:
    parser = workload_parser(__doc__, name="pf mlock x")
    parser.add_argument("--limit-kib", type=int, default=8192)
    parser.add_argument("--lock-kib", type=int, default=7808)
    args = parser.parse_args(argv)
    libc = ctypes.CDLL(None, use_errno=True)
    set_comm(args.name)
    limit = args.limit_kib * 1024
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (limit, limit))
    size = args.lock_kib * 1024
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    anchor = ctypes.c_char.from_buffer(region)
    if libc.mlock(ctypes.c_void_p(ctypes.addressof(anchor)), ctypes.c_size_t(size)) != 0:
        raise OSError(ctypes.get_errno(), "mlock failed")
    scratch = mmap.mmap(-1, 64 * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    ones = b"\x01" * 64
    print("READY", flush=True)
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        scratch[:: mmap.PAGESIZE] = ones  # 64 minor faults
        scratch.madvise(MADV_DONTNEED)
        time.sleep(0.01)  # ~6,000 faults/s: visible in the ranking, no storm
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
