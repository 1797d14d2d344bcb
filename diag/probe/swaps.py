"""``/proc/swaps``, read once after the second snapshot: parse it into ``SwapDevice`` records (sizes in KiB).

Columns may be separated by spaces or tabs (double tabs for short names like ``/dev/zram0``);
a file with only the header means no swap.

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


def parse_swaps(lines: Sequence[str], source: str = "/proc/swaps") -> list[SwapDevice]:
    """Rows after the header; a row of another shape is a ParseError quoting it."""
    devices: list[SwapDevice] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("Filename"):
            continue
        # the path may contain spaces (swap files); the last four columns never do
        parts = line.rsplit(None, 4)
        try:
            devices.append(SwapDevice(parts[0], parts[1], int(parts[2]), int(parts[3]), int(parts[4])))
        except (IndexError, ValueError):
            raise ParseError(
                f"expected 'Filename Type Size Used Priority': {line!r}", where=f"{source} line {n}"
            ) from None
    return devices


SOURCE = Source("swaps", "/proc/swaps", ONCE, parse_swaps)
