"""The frozen inventory everything downstream reads: ``Host``, ``Group`` and ``Inventory``.

In: a reconciled ``InventoryData`` and each host's / group's vars already merged with Ansible's
precedence (see ``diag.inventory.sources``). Out: records with the hosts in inventory order,
``select`` for ``--limit`` patterns, and the ``ansible-inventory --list/--graph/--host`` views.
"""

from __future__ import annotations

from typing import Any

from diag.inventory.data import InventoryData
from diag.inventory.listing import graph as graph_text
from diag.inventory.listing import host_json, list_json
from diag.inventory.patterns import select as select_hosts
from diag.inventory.records import Group, Host, HostGroups

__all__ = ["Group", "Host", "HostGroups", "Inventory", "Selection", "implicit_localhost"]


class Selection(list[Host]):
    """``select`` result: a list of hosts plus the warnings ansible would print for the pattern."""

    def __init__(self, hosts: list[Host], warnings: list[str]) -> None:
        super().__init__(hosts)
        self.warnings = warnings


class Inventory(HostGroups):
    """Hosts and groups as ansible sees them after reading every ``-i`` source, with their views."""

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

    def select(self, pattern: str) -> Selection:
        """Hosts matching a ``--limit`` pattern, in the order ansible returns them."""
        hosts, warnings = select_hosts(self, pattern)
        return Selection(hosts, warnings)

    def to_list_json(self) -> dict[str, Any]:
        """The JSON of ``ansible-inventory --list`` (``_meta.profile`` included, as ansible 2.19)."""
        return list_json(self)

    def graph(self) -> str:
        """The text of ``ansible-inventory --graph``."""
        return graph_text(self)

    def host_vars_json(self, name: str) -> dict[str, Any]:
        """The JSON of ``ansible-inventory --host NAME``."""
        return host_json(self, name)


def implicit_localhost() -> Inventory:
    """Ansible's implicit localhost: one host, ``ansible_connection=local``, not listed under ``all``."""
    host = Host("localhost", {"ansible_connection": "local"}, ())
    groups = {
        "all": Group("all", children=("ungrouped",)),
        "ungrouped": Group("ungrouped", parents=("all",), depth=1),
    }
    return Inventory({"localhost": host}, groups, implicit=("localhost",))
