"""``/proc/buddyinfo``, read once after the second snapshot: free blocks per order per zone.

In: lines ``Node 0, zone   Normal    260     76    540 ...``: the count of free blocks of 2^order pages,
order 0 first (11 orders on x86_64; other arches and configs differ, so the count is what the line
has). Out: ``Buddyinfo`` with every zone, the per-order sum over zones, and the free memory held in
blocks of order >= 4 (64 KiB with 4 KiB pages): what a THP, a jumbo-frame NIC or a compaction stall
is short of when it is small although MemFree is not.

>>> zones = parse_buddyinfo([
...     "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 ",
...     "Node 0, zone   Normal    260     76    540    514    420    255    177     83     35      2    108"])
>>> zones[1]
BuddyZone(node=0, zone='Normal', free=(260, 76, 540, 514, 420, 255, 177, 83, 35, 2, 108))
>>> b = buddyinfo_values(zones, 4)
>>> b.free_pages_by_order[8], b.high_order_free_kib
(36, 644992)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from diag.probe.source import ONCE, Source
from diag.shared.errors import ParseError

HIGH_ORDER = 4  # blocks of 2^4 pages and up count as "high order" (64 KiB with 4 KiB pages)


@dataclass(frozen=True, slots=True)
class BuddyZone:
    """One zone of one NUMA node: free blocks per order (order 0 first)."""

    node: int
    zone: str
    free: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Buddyinfo:
    """Every zone, the free blocks per order summed over zones, and the KiB free in high-order blocks."""

    zones: tuple[BuddyZone, ...] = ()
    free_pages_by_order: tuple[int, ...] = ()
    high_order_free_kib: int = 0


def parse_buddyinfo(lines: Sequence[str], source: str = "/proc/buddyinfo") -> tuple[BuddyZone, ...]:
    """Zones in file order; a ``Node`` line of another shape is a ParseError quoting it.

    A zone the kernel adds (``Device``) or more orders (arm64 with 64 KiB pages) read like any other;
    a line that is not a ``Node`` line, which a newer kernel might add, is skipped.

    >>> parse_buddyinfo(["Node 1, zone   Device      1      2      3 ", "Total free: 12"])
    (BuddyZone(node=1, zone='Device', free=(1, 2, 3)),)
    """
    zones: list[BuddyZone] = []
    for n, line in enumerate(lines, start=1):
        if not line.startswith("Node"):
            continue
        head, comma, rest = line.partition(",")
        words, counts = head.split(), rest.split()
        try:
            if not comma or len(words) != 2 or words[0] != "Node" or len(counts) < 2 or counts[0] != "zone":
                raise ValueError
            free = tuple(int(c) for c in counts[2:])
            if not free or min(free) < 0:
                raise ValueError
            zones.append(BuddyZone(int(words[1]), counts[1], free))
        except ValueError:
            raise ParseError(
                f"expected 'Node N, zone NAME count per order...': {line!r}", where=f"{source} line {n}"
            ) from None
    return tuple(zones)


def buddyinfo_values(zones: tuple[BuddyZone, ...], page_kib: int) -> Buddyinfo:
    """Sum the zones per order and count the KiB in blocks of order >= HIGH_ORDER."""
    orders = max((len(z.free) for z in zones), default=0)
    by_order = tuple(sum(z.free[o] for z in zones if o < len(z.free)) for o in range(orders))
    high = sum(count * (2**order) * page_kib for order, count in enumerate(by_order) if order >= HIGH_ORDER)
    return Buddyinfo(zones, by_order, high)


SOURCE = Source("buddyinfo", "/proc/buddyinfo", ONCE, parse_buddyinfo)
