"""``ansible-inventory --list`` output (the ``_meta.hostvars`` JSON) -> calls on an ``InventoryData``.

In: the parsed JSON of a saved ``--list`` (what every dynamic source, script or plugin, can be saved as:
``ansible-inventory -i aws_ec2.yml --list > fleet.json``). Out: its groups (``hosts``, ``children``,
``vars``) and each host's vars from ``_meta.hostvars``, read as Ansible's ``script`` plugin reads a
script's answer (a group may also be a bare list of hosts). ``{"__ansible_unsafe": text}`` values, as
``--list`` writes ``!unsafe`` ones, become unsafe text again.

>>> from diag.inventory.data import InventoryData
>>> inv = InventoryData()
>>> parse_saved_list({"all": {"children": ["ungrouped", "web"]}, "web": {"hosts": ["w1", "w2"]},
...     "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}}, "profile": "inventory_legacy"}},
...     "fleet.json", inv)
>>> inv.groups["web"].hosts, inv.hosts["w1"].vars
(['w1', 'w2'], {'ansible_host': '10.0.0.1'})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diag.inventory.data import BuildError, InventoryData, UnsafeText
from diag.shared.errors import InventoryError

GROUP_KEYS = ("hosts", "vars", "children")


def is_saved_list(data: Any) -> bool:
    """Whether parsed JSON/YAML is ``--list`` output: a mapping with ``_meta.hostvars``."""
    return (
        isinstance(data, Mapping) and isinstance(data.get("_meta"), Mapping) and "hostvars" in data["_meta"]
    )


def _unsafe(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"__ansible_unsafe"} and isinstance(value["__ansible_unsafe"], str):
            return UnsafeText(value["__ansible_unsafe"])
        return {k: _unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsafe(v) for v in value]
    return value


def _names(value: Any, what: str, group: str, source: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InventoryError(
            f"group {group!r}: {what} must be a list of names, got {type(value).__name__}", where=source
        )
    return value


def _mapping(value: Any, what: str, source: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InventoryError(f"{what} must be a mapping, got {type(value).__name__}", where=source)
    return value


def parse_saved_list(data: Mapping[str, Any], source: str, inv: InventoryData) -> None:
    """Add the groups, hosts, children and vars of one ``--list`` answer to ``inv``."""
    groups: dict[str, Mapping[str, Any]] = {}
    for name, entry in data.items():
        if name == "_meta":
            continue
        if isinstance(entry, list):
            entry = {"hosts": entry}
        elif not isinstance(entry, Mapping):
            raise InventoryError(
                f"group {name!r} must be a mapping or a list of hosts, got {type(entry).__name__}",
                where=source,
            )
        elif entry and not any(key in entry for key in GROUP_KEYS):
            entry = {"hosts": list(entry)}  # the script plugin's oldest form: group -> {host: ...}
        groups[name] = entry
    try:
        for name in groups:
            inv.add_group(name)
        for name, entry in groups.items():
            for host in _names(entry.get("hosts"), "hosts", name, source):
                inv.add_host(host, name)
            for key, value in _mapping(entry.get("vars"), f"vars of group {name!r}", source).items():
                inv.set_group_var(name, key, _unsafe(value))
        for name, entry in groups.items():
            for child in _names(entry.get("children"), "children", name, source):
                inv.add_group(child)
                inv.add_child(name, child)
        hostvars = _mapping(data["_meta"].get("hostvars"), "_meta.hostvars", source)
        for host, values in hostvars.items():
            inv.add_host(host)
            for key, value in _mapping(values, f"_meta.hostvars of {host!r}", source).items():
                inv.set_host_var(host, key, _unsafe(value))
    except BuildError as exc:
        raise InventoryError(str(exc), where=source) from None
