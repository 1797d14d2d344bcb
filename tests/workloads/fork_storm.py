"""Short-lived children that fault: a parent forks ~50 workers a second, each writes fresh anonymous
memory (one minor fault per page) and exits at once; the parent reaps them.

In: ``--name`` (the parent's comm), ``--seconds`` (when to stop), ``--mb`` (memory each child touches),
``--rate`` (children per second). Out: ``READY`` on stdout once the first child has been reaped; then it
runs until killed or ``--seconds`` expire.

No child lives across a probe's two samples, so only the parent's ``cminflt`` (the faults of the
children it reaped, /proc/PID/stat field 11) shows the storm; the parent itself barely faults. This is
the batch runner / CGI server / ``make -j`` of issue 7. Standalone on purpose (stdlib only, no imports
from the repo): it can be copied to any host and run with any Python 3.11.
"""

from __future__ import annotations

import argparse
import ctypes
import mmap
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
MADV_NOHUGEPAGE = 15


def set_comm(name: str) -> None:
    """Set this process's comm (15 bytes kept) and ask for SIGKILL when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME) failed")
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def child(size: int, cgroup: str | None = None) -> None:
    """Touch ``size`` bytes of fresh anonymous memory, one write per page, and leave without cleanup.

    MADV_NOHUGEPAGE so every 4 KiB page is one fault whatever the THP setting; ``os._exit`` so the
    child runs none of the parent's Python teardown. With ``cgroup``, the child first moves into that
    memory cgroup: its faults are charged there while its parent, outside, reaps it (a runtime's shim
    reaping the ``exec`` probes it ran in a pod).
    """
    try:
        if cgroup is not None:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
        libc = ctypes.CDLL(None)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        region.madvise(MADV_NOHUGEPAGE)
        region[:: mmap.PAGESIZE] = b"\x01" * (size // mmap.PAGESIZE)
    finally:
        os._exit(0)


def storm(size: int, rate: float, deadline: float, cgroup: str | None = None) -> None:
    """Fork a child every 1/rate s and reap it before the next, until the deadline."""
    period = 1.0 / rate
    ready = False
    next_start = time.monotonic()
    while time.monotonic() < deadline:
        pid = os.fork()
        if pid == 0:
            child(size, cgroup)
        os.waitpid(pid, 0)  # reaping adds the child's faults to our cminflt
        if not ready:
            print("READY", flush=True)
            ready = True
        next_start += period
        time.sleep(max(0.0, next_start - time.monotonic()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="batch (runner)", help="the parent's comm (max 15 bytes kept)")
    parser.add_argument("--seconds", type=float, default=30.0, help="stop after this long")
    parser.add_argument("--mb", type=int, default=16, help="MiB of anonymous memory each child writes")
    parser.add_argument("--rate", type=float, default=50.0, help="children per second")
    parser.add_argument("--child-cgroup", help="a memory cgroup directory each child moves into first")
    args = parser.parse_args(argv)
    set_comm(args.name)
    storm(args.mb * 1024 * 1024, args.rate, time.monotonic() + args.seconds, args.child_cgroup)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
