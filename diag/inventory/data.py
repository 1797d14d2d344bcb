"""The mutable inventory that parsers fill in, with Ansible's rules for groups, hosts and their vars.

In: calls from the INI/YAML/host-list parsers (``add_group``, ``add_host``, ``add_child``,
``set_group_var``, ``set_host_var``). Out: after ``reconcile()``, groups and hosts with the same
parent/child order, depths, priorities and ``ungrouped`` membership that ansible's
``InventoryData`` would hold; ``diag.inventory.model`` freezes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from diag.shared.errors import InventoryError


class UnsafeText(str):
    """A string ansible marks as never to be templated (``!unsafe``, INI bytes literals).

    It behaves as ``str``; ``ansible-inventory --list`` shows it as ``{"__ansible_unsafe": text}``.
    """

    __slots__ = ()


def descendants(name: str, children_of: Callable[[str], Iterable[str]]) -> list[str]:
    """``name``, then every group below it breadth first, each once (ansible's ``preserve_ordering``).

    >>> tree = {"all": ["web", "db"], "web": ["eu"], "db": ["eu"], "eu": []}
    >>> descendants("all", tree.__getitem__)
    ['all', 'web', 'db', 'eu']
    """
    ordered = [name]
    level = list(children_of(name))
    while level:
        next_level: list[str] = []
        for group in level:
            if group not in ordered:
                ordered.append(group)
                next_level.extend(children_of(group))
        level = next_level
    return ordered


class BuildError(InventoryError):
    """A rule of the inventory model was broken (loop, unknown group); parsers add file:line."""


@dataclass(slots=True, eq=False)
class GroupData:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    depth: int = 0
    priority: int = 1
    # ``hosts`` as a set, so adding the n-th host is O(1): web[1:100000] was quadratic
    members: set[str] = field(default_factory=set, repr=False)


@dataclass(slots=True, eq=False)
class HostData:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


def set_var(target: dict[str, Any], key: str, value: Any) -> None:
    """Ansible's ``set_variable``: a mapping set over a mapping of the same name merges one level."""
    old = target.get(key)
    if isinstance(old, dict) and isinstance(value, Mapping):
        target[key] = {**old, **value}
    else:
        target[key] = value


class InventoryData:
    """Groups and hosts in insertion order; ``all`` and ``ungrouped`` exist from the start."""

    def __init__(self) -> None:
        self.groups: dict[str, GroupData] = {}
        self.hosts: dict[str, HostData] = {}
        self.warnings: list[str] = []
        self.add_group("all")
        self.add_group("ungrouped")
        self.add_child("all", "ungrouped")

    def add_group(self, name: str) -> str:
        if not name:
            raise BuildError("invalid empty group name")
        if name not in self.groups:
            self.groups[name] = GroupData(name)
        return name

    def add_host(self, name: str, group: str | None = None, port: int | None = None) -> str:
        if not name:
            raise BuildError("invalid empty host name")
        if name not in self.hosts:
            host = HostData(name)
            if port:
                host.vars["ansible_port"] = int(port)
            self.hosts[name] = host
        if group:
            if group not in self.groups:
                raise BuildError(f"could not find group {group} in inventory")
            self._add_host_to_group(self.groups[group], self.hosts[name])
        return name

    def _add_host_to_group(self, group: GroupData, host: HostData) -> None:
        if host.name in group.members:
            return
        group.hosts.append(host.name)
        group.members.add(host.name)
        for name in [*self.ancestors(group.name), group.name]:
            if name not in host.groups:
                host.groups.append(name)

    def set_group_var(self, group: str, key: str, value: Any) -> None:
        if key == "ansible_group_priority":
            try:
                self.groups[group].priority = int(value)
            except (TypeError, ValueError, OverflowError):
                raise BuildError(
                    f"ansible_group_priority of group {group!r} must be a whole number, got {value!r}"
                ) from None
        else:
            set_var(self.groups[group].vars, key, value)

    def set_host_var(self, host: str, key: str, value: Any) -> None:
        set_var(self.hosts[host].vars, key, value)

    def add_child(self, parent: str, child: str) -> None:
        """Make ``child`` (a group, else a host) a member of group ``parent``."""
        if parent not in self.groups:
            raise BuildError(f"{parent} is not a known group")
        if child in self.groups:
            self._add_child_group(self.groups[parent], self.groups[child])
        elif child in self.hosts:
            self._add_host_to_group(self.groups[parent], self.hosts[child])
        else:
            raise BuildError(f"{child} is not a known host nor group")

    def _add_child_group(self, parent: GroupData, child: GroupData) -> None:
        if parent is child:
            raise BuildError(f"can't add group {parent.name} to itself")
        if child.name in parent.children:
            return
        if child.name in self.ancestors(parent.name):
            raise BuildError(
                f"adding group '{child.name}' as child to '{parent.name}' creates a recursive dependency loop"
            )
        parent.children.append(child.name)
        child.depth = max(parent.depth + 1, child.depth)
        self._deepen_children(child)
        if parent.name not in child.parents:
            child.parents.append(parent.name)
            new_ancestors = [parent.name, *self.ancestors(parent.name)]
            for host_name in self.group_hosts(child.name):
                host = self.hosts[host_name]
                host.groups.extend(g for g in new_ancestors if g not in host.groups)

    def _deepen_children(self, group: GroupData) -> None:
        for name in group.children:
            child = self.groups[name]
            if child.depth < group.depth + 1:
                child.depth = group.depth + 1
                self._deepen_children(child)

    def ancestors(self, name: str) -> list[str]:
        seen: list[str] = []
        todo = list(self.groups[name].parents)
        while todo:
            current = todo.pop(0)
            if current not in seen:
                seen.append(current)
                todo.extend(self.groups[current].parents)
        return seen

    def descendants(self, name: str) -> list[str]:
        """The group itself, then its children breadth first (ansible's ``preserve_ordering``)."""
        return descendants(name, lambda group: self.groups[group].children)

    def group_hosts(self, name: str) -> list[str]:
        """Hosts of the group and of every group below it, first appearance wins."""
        result: dict[str, None] = {}
        for group in self.descendants(name):
            result.update(dict.fromkeys(self.groups[group].hosts))
        return list(result)

    def reconcile(self) -> None:
        """Hang parentless groups under ``all`` and put group-less hosts in ``ungrouped`` (ansible)."""
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                self.add_child("all", group.name)
        ungrouped = self.groups["ungrouped"]
        grouped: set[str] = set()
        for host in self.hosts.values():
            if "ungrouped" in host.groups:
                if set(host.groups) - {"all", "ungrouped"}:
                    grouped.add(host.name)
                    host.groups.remove("ungrouped")
            elif not host.groups or host.groups == ["all"]:
                self.add_child("ungrouped", host.name)
        if grouped:
            ungrouped.hosts[:] = [name for name in ungrouped.hosts if name not in grouped]
            ungrouped.members -= grouped
        for name in set(self.groups) & set(self.hosts):
            self.warnings.append(f"Found both group and host with same name: {name}")
