"""Which plays each host runs: the selected hosts (``--limit``) paired with the plays that name them.

In: a validated ``Playbook``, an inventory (anything with ``select(pattern)``) and the selected hosts.
Out: ``[(host, [play, ...]), ...]`` in host order, hosts that no play names left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from diag.playbook.language.model import Play, Playbook


class HostLike(Protocol):
    """What the engine needs of an inventory host (``diag.inventory.Host`` has it)."""

    name: str
    vars: dict[str, Any]
    groups: tuple[str, ...]


class InventoryLike(Protocol):
    """What the engine needs of an inventory (``diag.inventory.Inventory`` has it)."""

    def select(self, pattern: str) -> Sequence[Any]: ...


def schedule(
    playbook: Playbook, inventory: InventoryLike, hosts: Sequence[HostLike]
) -> list[tuple[HostLike, list[Play]]]:
    """Pair each selected host (``--limit``) with the plays whose ``hosts:`` pattern includes it.

    Raises ``InventoryError`` (from ``select``) for a play pattern that does not parse, before anything runs.
    """
    plays_of: dict[str, list[Play]] = {host.name: [] for host in hosts}
    for play in playbook.plays:
        for host in inventory.select(play.hosts):
            if host.name in plays_of:
                plays_of[host.name].append(play)
    return [(host, plays_of[host.name]) for host in hosts if plays_of[host.name]]
