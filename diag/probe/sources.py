"""Every file the probe reads, as declared by its source module; the probe's file list is built here.

In: the ``SOURCE`` declarations of the source modules. Out: ``SOURCES`` (in output order),
``BY_PATH`` (how ``parse_probe`` finds the parser of a section) and the file-list arguments of the
probe script. A new /proc or /sys source is a module with its ``SOURCE`` and one entry here.

>>> files_arg(TWICE, via_cat=False).split()  # doctest: +ELLIPSIS
['k:/proc/vmstat=pgfault,...,workingset_refault', 'k:/proc/meminfo=MemTotal,...', 'z:/proc/diskstats']
>>> files_arg(ONCE, via_cat=False)
'-:/proc/swaps -:/proc/buddyinfo -:/sys/devices/system/node/online'
"""

from __future__ import annotations

from diag.probe.buddyinfo import SOURCE as BUDDYINFO
from diag.probe.diskstats import SOURCE as DISKSTATS
from diag.probe.meminfo import SOURCE as MEMINFO
from diag.probe.numa import SOURCE as NUMA
from diag.probe.pressure import SOURCES as PRESSURE
from diag.probe.source import ONCE, TWICE, Source
from diag.probe.swaps import SOURCE as SWAPS
from diag.probe.vmstat import SOURCE as VMSTAT

SOURCES: tuple[Source, ...] = (VMSTAT, MEMINFO, DISKSTATS, *PRESSURE, SWAPS, BUDDYINFO, NUMA)
BY_PATH = {source.path: source for source in SOURCES}

__all__ = ["BY_PATH", "ONCE", "SOURCES", "TWICE", "files_arg"]


def files_arg(read: str, *, via_cat: bool) -> str:
    """The space-separated ``-:PATH`` / ``z:PATH`` list of the files read ``read`` (TWICE/ONCE)."""
    return " ".join(
        s.spec() if not via_cat else s.path for s in SOURCES if s.read == read and s.via_cat == via_cat
    )
