"""Ansible's YAML (and JSON) inventory format -> calls on an ``InventoryData``, like the ``yaml`` plugin.

In: the text of one ``.yml``/``.yaml``/``.json`` (or extensionless) inventory file. Out: groups with
``hosts``/``children``/``vars`` added to the ``InventoryData``; a ``YamlInventoryError`` when the file
is not YAML or not a mapping of groups (the loader may then try INI, as ansible does).
Jinja stays an unrendered string; ``!unsafe`` and ``!vault`` values are kept as their text.

>>> from diag.inventory.data import InventoryData
>>> inv = InventoryData()
>>> parse_yaml('''
... web:
...   hosts:
...     web[01:02]:
...       ansible_host: 10.0.0.1
...   vars: {ansible_become: true}
... ''', "hosts.yml", inv)
>>> sorted(inv.hosts), inv.groups["web"].vars
(['web01', 'web02'], {'ansible_become': True})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from diag.inventory.data import BuildError, InventoryData, UnsafeText
from diag.inventory.ranges import expand_host_pattern
from diag.shared.errors import InventoryError
from diag.shared.yamlsafe import construct_checked


class YamlInventoryError(InventoryError):
    """The file is not a YAML inventory; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class _Loader(yaml.SafeLoader):
    """SafeLoader plus ansible's ``!unsafe`` / ``!vault`` tags, kept as plain text."""


def _tagged_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    return _tagged_collection(loader, node)


def _unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return UnsafeText(loader.construct_scalar(node))
    return _tagged_collection(loader, node)


def _tagged_collection(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return None


_Loader.add_constructor("!unsafe", _unsafe)
_Loader.add_constructor("!vault", _tagged_text)
_Loader.add_constructor("!vault-encrypted", _tagged_text)


def load_yaml(text: str) -> Any:
    """Parse YAML text (JSON included); ``YamlInventoryError`` with the line on a syntax error."""
    try:
        return construct_checked(_Loader(text))  # a SafeLoader subclass, with diag.shared.yamlsafe's bounds
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlInventoryError(f"YAML syntax error: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlInventoryError(f"YAML error: {exc}") from None


def parse_yaml(text: str, path: str, inv: InventoryData) -> None:
    """Add the groups of the YAML inventory ``text`` to ``inv``; ``path`` is for messages only."""
    data = load_yaml(text)
    if not data:
        raise YamlInventoryError("Parsed empty YAML file")
    if not isinstance(data, Mapping):
        raise YamlInventoryError(
            "YAML inventory has invalid structure, it should be a mapping of groups, "
            f"got: {type(data).__name__}",
            1,
        )
    if data.get("plugin"):
        raise YamlInventoryError(
            "Plugin configuration YAML file, not YAML inventory (plugins are not supported)"
        )
    for group_name, group_data in data.items():
        _parse_group(inv, group_name, group_data)


def _parse_group(inv: InventoryData, group: Any, group_data: Any) -> str:
    if not isinstance(group_data, (Mapping, type(None))):
        inv.warnings.append(f"Skipping '{group}' as this is not a valid group definition")
        return str(group)
    if not isinstance(group, str):
        raise YamlInventoryError(f"Unable to add group {group!r}: group names must be strings")
    try:
        group = inv.add_group(group)
    except BuildError as exc:
        raise YamlInventoryError(f"Unable to add group {group}: {exc}") from None
    if group_data is None:
        return group
    sections = dict(group_data)
    for section in ("vars", "children", "hosts"):
        if isinstance(sections.get(section), str):
            sections[section] = {sections[section]: None}
        if section in sections and not isinstance(sections[section], (Mapping, type(None))):
            raise YamlInventoryError(
                f'Invalid "{section}" entry for "{group}" group, requires a dictionary, '
                f'found "{type(sections[section]).__name__}" instead.'
            )
    for key, value in sections.items():
        if value is None:
            continue
        if not isinstance(value, Mapping):
            inv.warnings.append(f"Skipping key ({key}) in group ({group}) as it is not a mapping")
        elif key == "vars":
            for var, var_value in value.items():
                inv.set_group_var(group, var, var_value)
        elif key == "children":
            for sub_name, sub_data in value.items():
                _add_child(inv, group, _parse_group(inv, sub_name, sub_data))
        elif key == "hosts":
            for pattern, host_vars in value.items():
                _parse_hosts(inv, group, pattern, host_vars)
        else:
            inv.warnings.append(
                f"Skipping unexpected key ({key}) in group ({group}), "
                'only "vars", "children" and "hosts" are valid'
            )
    return group


def _add_child(inv: InventoryData, parent: str, child: str) -> None:
    try:
        inv.add_child(parent, child)
    except BuildError as exc:
        raise YamlInventoryError(str(exc)) from None


def _parse_hosts(inv: InventoryData, group: str, pattern: Any, host_vars: Any) -> None:
    if not isinstance(pattern, str):
        raise YamlInventoryError(
            f"Host pattern {pattern} must be a string. Enclose integers/floats in quotation marks."
        )
    try:
        hosts, port = expand_host_pattern(pattern)
    except ValueError as exc:
        raise YamlInventoryError(f"Invalid host range in '{pattern}': {exc}") from None
    host_vars = host_vars or {}
    if not isinstance(host_vars, Mapping):
        raise YamlInventoryError(
            f"Invalid data for host {pattern}, expected a mapping of vars, got: {host_vars!r}"
        )
    for host in hosts:
        inv.add_host(host, group, port)
        for key, value in host_vars.items():
            inv.set_host_var(host, key, value)
