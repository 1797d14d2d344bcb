"""The three views ``ansible-inventory`` prints: ``--list`` JSON, ``--graph`` text and ``--host`` JSON.

In: an ``Inventory``. Out: plain dicts / text equal to ansible-core 2.19's output (``--list`` includes
``_meta.profile``; vars ansible treats as internal, like ``inventory_hostname``, are left out).

>>> from diag.inventory.records import Group, Host, HostGroups
>>> inv = HostGroups({"h1": Host("h1", {"a": 1}, ("web",))}, {
...     "all": Group("all", children=("ungrouped", "web")),
...     "ungrouped": Group("ungrouped", parents=("all",), depth=1),
...     "web": Group("web", hosts=("h1",), parents=("all",), depth=1)})
>>> print(graph(inv))
@all:
  |--@ungrouped:
  |--@web:
  |  |--h1
>>> list_json(inv)["all"], list_json(inv)["_meta"]["hostvars"]
({'children': ['ungrouped', 'web']}, {'h1': {'a': 1}})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from diag.inventory.data import UnsafeText
from diag.shared.errors import InventoryError

if TYPE_CHECKING:
    from diag.inventory.records import HostGroups

PROFILE = "inventory_legacy"
# ansible.constants.INTERNAL_STATIC_VARS: never shown by ansible-inventory
INTERNAL_VARS = frozenset(
    (
        "ansible_async_path",
        "ansible_collection_name",
        "ansible_config_file",
        "ansible_dependent_role_names",
        "ansible_diff_mode",
        "ansible_facts",
        "ansible_forks",
        "ansible_inventory_sources",
        "ansible_limit",
        "ansible_play_batch",
        "ansible_play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_role_names",
        "ansible_playbook_python",
        "ansible_role_name",
        "ansible_role_names",
        "ansible_run_tags",
        "ansible_skip_tags",
        "ansible_verbosity",
        "ansible_version",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "groups",
        "group_names",
        "hostvars",
        "playbook_dir",
        "play_hosts",
        "role_name",
        "role_names",
        "role_path",
        "role_uuid",
    )
)


def _as_json(value: Any) -> Any:
    if isinstance(value, UnsafeText):
        return {"__ansible_unsafe": str(value)}
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return value


def _public(variables: dict[str, Any]) -> dict[str, Any]:
    return {k: _as_json(v) for k, v in variables.items() if k not in INTERNAL_VARS}


def list_json(inv: HostGroups) -> dict[str, Any]:
    """``ansible-inventory --list``."""
    available = {h.name for h in inv.group_hosts("all")}
    seen: set[str] = set()

    def format_group(name: str) -> dict[str, Any]:
        group = inv.groups[name]
        entry: dict[str, Any] = {}
        if name != "all":
            entry["hosts"] = [h for h in group.hosts if h in available]
        entry["children"] = list(group.children)
        results: dict[str, Any] = {name: entry}
        for child in group.children:
            if child not in seen:
                results.update(format_group(child))
                seen.add(child)
        for key in ("hosts", "children"):
            if key in entry and not entry[key]:
                del entry[key]
        if not entry:
            del results[name]
        return results

    results = format_group("all")
    hostvars = {h.name: v for h in inv.group_hosts("all") if (v := _public(h.vars))}
    results["_meta"] = {"hostvars": hostvars, "profile": PROFILE}
    return results


def graph(inv: HostGroups, start: str = "all") -> str:
    """``ansible-inventory --graph [GROUP]``."""
    if start not in inv.groups:
        raise InventoryError(f"Pattern must be valid group name when using --graph: {start}")

    def name_at(name: str, depth: int) -> str:
        return "  |" * depth + "--" + name if depth else name

    def walk(name: str, depth: int) -> list[str]:
        lines = [name_at(f"@{name}:", depth)]
        for child in inv.groups[name].children:
            lines.extend(walk(child, depth + 1))
        if name != "all":
            lines.extend(name_at(h, depth + 1) for h in inv.groups[name].hosts)
        return lines

    return "\n".join(walk(start, 0))


def host_json(inv: HostGroups, name: str) -> dict[str, Any]:
    """``ansible-inventory --host NAME``."""
    if name not in inv.hosts:
        raise InventoryError(
            f"Could not match supplied host pattern: {name}", hint="see --list for host names"
        )
    return _public(inv.hosts[name].vars)
