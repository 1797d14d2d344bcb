"""The frozen inventory everything downstream reads: ``Host``, ``Group`` and ``Inventory``.

In: a reconciled ``InventoryData`` and each host's / group's vars already merged with Ansible's
precedence (see ``diag.inventory.sources``). Out: records with the hosts in inventory order,
``select`` for ``--limit`` patterns, and the ``ansible-inventory --list/--graph/--host`` views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diag.inventory import listing, patterns
from diag.inventory.data import InventoryData, descendants


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


class Selection(list[Host]):
    """``select`` result: a list of hosts plus the warnings ansible would print for the pattern."""

    def __init__(self, hosts: list[Host], warnings: list[str]) -> None:
        super().__init__(hosts)
        self.warnings = warnings


class Inventory:
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

    @classmethod
    def from_data(
        cls,
        data: InventoryData,
        host_vars: dict[str, dict[str, Any]],
        group_vars: dict[str, dict[str, Any]],
        base_dir: str | None = None,
    ) -> Inventory:
        hosts = {
            name: Host(name, host_vars[name], tuple(sorted(g for g in h.groups if g != "all")))
            for name, h in data.hosts.items()
        }
        groups = {
            name: Group(name, tuple(g.hosts), tuple(g.children), tuple(g.parents), group_vars[name], g.depth,
                        g.priority)
            for name, g in data.groups.items()
        }  # fmt: skip
        return cls(hosts, groups, warnings=tuple(data.warnings), base_dir=base_dir)

    def group_hosts(self, name: str) -> list[Host]:
        """Hosts of group ``name`` and of every group below it (breadth first, first seen wins)."""
        seen: dict[str, None] = {}
        for group in descendants(name, lambda group: self.groups[group].children):
            seen.update(dict.fromkeys(self.groups[group].hosts))
        return [self.hosts[h] for h in seen if not (name == "all" and h in self.implicit_hosts)]

    def select(self, pattern: str) -> Selection:
        """Hosts matching a ``--limit`` pattern, in the order ansible returns them."""
        hosts, warnings = patterns.select(self, pattern)
        return Selection(hosts, warnings)

    def to_list_json(self) -> dict[str, Any]:
        """The JSON of ``ansible-inventory --list`` (``_meta.profile`` included, as ansible 2.19)."""
        return listing.list_json(self)

    def graph(self) -> str:
        """The text of ``ansible-inventory --graph``."""
        return listing.graph(self)

    def host_vars_json(self, name: str) -> dict[str, Any]:
        """The JSON of ``ansible-inventory --host NAME``."""
        return listing.host_json(self, name)


def implicit_localhost() -> Inventory:
    """Ansible's implicit localhost: one host, ``ansible_connection=local``, not listed under ``all``."""
    host = Host("localhost", {"ansible_connection": "local"}, ())
    groups = {
        "all": Group("all", children=("ungrouped",)),
        "ungrouped": Group("ungrouped", parents=("all",), depth=1),
    }
    return Inventory({"localhost": host}, groups, implicit=("localhost",))
