"""``/proc/swaps``, read once after the second snapshot: parse it into ``SwapDevice`` records (sizes in KiB).

Columns may be separated by spaces or tabs (double tabs for short names like ``/dev/zram0``);
a file with only the header means no swap. Columns are found by the header's names, so a column a newer
kernel adds does not shift the ones pfdiag reads.

>>> parse_swaps(["Filename\\t\\t\\t\\tType\\t\\tSize\\t\\tUsed\\t\\tPriority",
...              "/dev/zram0                              partition\\t\\t8388604\\t\\t76\\t\\t100"])
[SwapDevice(device='/dev/zram0', type='partition', size_kib=8388604, used_kib=76, priority=100)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from diag.probe.source import ONCE, Source
from diag.shared.errors import ParseError


@dataclass(frozen=True, slots=True)
class SwapDevice:
    """One swap area: ``partition`` (a block device) or ``file``."""

    device: str
    type: str
    size_kib: int
    used_kib: int
    priority: int


COLUMNS = ("Filename", "Type", "Size", "Used", "Priority")


def parse_swaps(lines: Sequence[str], source: str = "/proc/swaps") -> list[SwapDevice]:
    """Rows after the header; a row of another shape (or a header without these columns) is a ParseError.

    >>> parse_swaps(["Filename Type Size Used Priority Zswapped", "/swap file file 1024 0 -2 0"])
    [SwapDevice(device='/swap file', type='file', size_kib=1024, used_kib=0, priority=-2)]
    """
    devices: list[SwapDevice] = []
    header = list(COLUMNS)
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.startswith("Filename"):
            header = line.split()
            if not set(COLUMNS) <= set(header) or header[0] != "Filename":
                raise ParseError(
                    f"expected the columns {' '.join(COLUMNS)}: {line!r}", where=f"{source} line {n}"
                )
            continue
        # the path may contain spaces (swap files); the columns after it never do
        parts = line.rsplit(None, len(header) - 1)
        try:
            if len(parts) != len(header):
                raise ValueError
            row = dict(zip(header, parts, strict=True))
            devices.append(
                SwapDevice(
                    row["Filename"], row["Type"], int(row["Size"]), int(row["Used"]), int(row["Priority"])
                )
            )
        except ValueError:
            raise ParseError(f"expected '{' '.join(header)}': {line!r}", where=f"{source} line {n}") from None
    return devices


SOURCE = Source("swaps", "/proc/swaps", ONCE, parse_swaps)
