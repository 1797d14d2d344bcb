"""The inventory's records: ``Host``, ``Group`` and ``HostGroups`` (hosts and groups, nothing derived).

In: nothing (``diag.inventory.model`` builds them). Out: the plain records that the ``--limit`` patterns
and the ``ansible-inventory`` views read, so neither needs the ``Inventory`` that offers them as methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diag.inventory.data import descendants


@dataclass(frozen=True, slots=True)
class Host:
    """One host: its merged vars and ``group_names`` (sorted, without ``all``)."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict, compare=False)
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """One group: direct hosts and child groups in declaration order, and its own vars."""

    name: str
    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict, compare=False)
    depth: int = 0
    priority: int = 1


class HostGroups:
    """Hosts and groups as ansible sees them after reading every ``-i`` source."""

    def __init__(
        self,
        hosts: dict[str, Host],
        groups: dict[str, Group],
        *,
        implicit: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
        base_dir: str | None = None,
    ) -> None:
        self.hosts = hosts
        self.groups = groups
        self.warnings = list(warnings)
        self.base_dir = base_dir
        # implicit hosts (the implicit localhost) exist but are never listed under ``all``
        self.implicit_hosts = implicit

    def group_hosts(self, name: str) -> list[Host]:
        """Hosts of group ``name`` and of every group below it (breadth first, first seen wins)."""
        seen: dict[str, None] = {}
        for group in descendants(name, lambda group: self.groups[group].children):
            seen.update(dict.fromkeys(self.groups[group].hosts))
        return [self.hosts[h] for h in seen if not (name == "all" and h in self.implicit_hosts)]
