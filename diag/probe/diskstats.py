"""``/proc/diskstats``, read at both snapshots (rows of zeros dropped on the host): parse it into
``DiskStat`` records, pick the devices to add up, and rate their reads (``disk_rates``).

Rows have 14 fields before 4.18, 18 with discard (4.18), 20 with flush (5.5); only the first
read fields are used. Sectors are always 512 bytes, whatever the device's block size. Partitions
and stacked devices (dm, md, loop) repeat I/O already counted on the disk below them, so a
total counts whole physical disks only: the probe sends the ``/sys/block`` names; without them a
name heuristic skips partitions.

>>> rows = parse_diskstats(["   8       0 sda 25354637 34367663 1003346126 18492232 0 0 0 0 0 0 0",
...                         "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"])
>>> rows["sda"].sectors_read, sorted(whole_disks(rows, None))
(1003346126, ['sda'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from diag.probe.source import TWICE, Source
from diag.probe.swaps import SwapDevice
from diag.probe.vmstat import rate
from diag.shared.errors import ParseError

SECTOR_BYTES = 512
# Devices whose I/O is not disk I/O (zram, ram, loop over a file) or is counted again below them.
VIRTUAL = re.compile(r"^(loop|ram|zram|dm-|md|nbd)\d")
PARTITION = re.compile(r"^((sd|hd|vd|xvd)[a-z]+\d+|(nvme\d+n\d+|mmcblk\d+|nbd\d+)p\d+)$")


@dataclass(frozen=True, slots=True)
class DiskStat:
    """Cumulative counters of one block device."""

    name: str
    reads: int
    sectors_read: int
    writes: int
    sectors_written: int


def parse_diskstats(lines: Sequence[str], source: str = "/proc/diskstats") -> dict[str, DiskStat]:
    """Device name -> DiskStat; a row with fewer than 14 fields is a ParseError quoting it."""
    rows: dict[str, DiskStat] = {}
    for n, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) < 14:
                raise ValueError
            rows[parts[2]] = DiskStat(parts[2], int(parts[3]), int(parts[5]), int(parts[7]), int(parts[9]))
        except ValueError:
            raise ParseError(
                f"expected 'major minor name' + 11..17 counters: {line!r}", where=f"{source} line {n}"
            ) from None
    return rows


def whole_disks(rows: dict[str, DiskStat], blockdevs: tuple[str, ...] | None) -> set[str]:
    """Names to sum for host disk I/O: whole, non-virtual disks.

    ``/sys/block`` spells ``cciss/c0d0`` as ``cciss!c0d0``.

    >>> sorted(whole_disks({}, ("vda", "zram0", "loop0", "cciss!c0d0")))
    ['cciss/c0d0', 'vda']
    """
    if blockdevs is not None:
        names = {b.replace("!", "/") for b in blockdevs}
    else:
        names = {name for name in rows if not PARTITION.match(name)}
    return {name for name in names if not VIRTUAL.match(name)}


SOURCE = Source("diskstats", "/proc/diskstats", TWICE, parse_diskstats, skip_zero_rows=True)


def disk_rates(
    a: dict[str, DiskStat] | None,
    b: dict[str, DiskStat] | None,
    interval_s: float,
    swaps: Sequence[SwapDevice],
    blockdevs: tuple[str, ...] | None,
    ne: dict[str, str],
) -> dict[str, float | None]:
    """KiB/s read by whole disks, and by the block devices backing swap (None with a reason).

    >>> a = parse_diskstats(["8 0 sda 1 0 100 0 0 0 0 0 0 0 0"])
    >>> b = parse_diskstats(["8 0 sda 9 0 900 0 0 0 0 0 0 0 0"])
    >>> ne = {}
    >>> disk_rates(a, b, 2.0, [], ("sda",), ne)
    {'disk_read_kib_per_s': 200.0, 'swap_disk_read_kib_per_s': None}
    >>> ne
    {'swap_disk_read_kib_per_s': 'no active swap in /proc/swaps'}
    """
    if not a or not b:
        ne["disk_read_kib_per_s"] = ne["swap_disk_read_kib_per_s"] = "/proc/diskstats not readable"
        return {"disk_read_kib_per_s": None, "swap_disk_read_kib_per_s": None}

    def kib(name: str) -> float:
        return (b[name].sectors_read - a[name].sectors_read) * SECTOR_BYTES / 1024

    # all-zero rows are dropped by the probe: a device seen only once has read nothing
    disks = [n for n in whole_disks(b, blockdevs) if n in a and n in b]
    total = sum(kib(n) for n in disks)
    swap: float | None = None
    if not swaps:
        ne["swap_disk_read_kib_per_s"] = "no active swap in /proc/swaps"
    elif any(dev.type != "partition" for dev in swaps):
        ne["swap_disk_read_kib_per_s"] = (
            "swap on a file: its reads cannot be told apart from the filesystem's"
        )
    else:
        names = [dev.device.rsplit("/", 1)[-1] for dev in swaps]
        unknown = [n for n in names if n not in b and n not in a]
        if unknown:
            ne["swap_disk_read_kib_per_s"] = f"swap device {unknown[0]} not found in /proc/diskstats by name"
        else:
            swap = sum(kib(n) for n in names if n in a and n in b)
    return {
        "disk_read_kib_per_s": rate(total, interval_s),
        "swap_disk_read_kib_per_s": rate(swap, interval_s),
    }
