"""The NUMA node count, read once from ``/sys/devices/system/node/online`` (a range list: ``0`` or ``0-1,3``).

The online list names the same nodes as the ``node*`` folders beside it, in one read (the probe's awk
cannot list a folder). A kernel without CONFIG_NUMA has no ``/sys/devices/system/node``: that host has
one node, which is an answer, not an unknown.

>>> parse_node_list(["0-1,3"])
3
>>> numa_values(None).nodes
1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from diag.probe.source import ONCE, Source
from diag.shared.errors import ParseError


@dataclass(frozen=True, slots=True)
class Numa:
    """How many NUMA nodes the host has online."""

    nodes: int = 1


def parse_node_list(lines: Sequence[str], source: str = "/sys/devices/system/node/online") -> int:
    """The number of nodes in a kernel range list; ParseError quoting anything else."""
    text = " ".join(line.strip() for line in lines if line.strip())
    count = 0
    try:
        for part in text.split(","):
            first, dash, last = part.partition("-")
            low, high = int(first), int(last) if dash else int(first)
            if low < 0 or high < low:
                raise ValueError
            count += high - low + 1
    except ValueError:
        raise ParseError(f"expected a node range list like '0-1,3': {text[:200]!r}", where=source) from None
    return count


def numa_values(nodes: int | None) -> Numa:
    """The record: the count read, else 1 (no node folder: the kernel has no NUMA)."""
    return Numa(nodes if nodes else 1)


SOURCE = Source("numa", "/sys/devices/system/node/online", ONCE, parse_node_list)
