"""``-i`` values -> one ``Inventory``: find each source, parse it, merge vars with Ansible's precedence.

In: the ``-i`` values in order (a file, a folder, a comma list ``a,b,``, or a bare name found as
``inventories/NAME``) and the directory they are relative to. Out: an ``Inventory`` whose host vars
are merged as ansible's ``VariableManager`` does: ``all`` < groups (by depth, priority, name) <
``group_vars/all`` < ``group_vars/<group>`` < host inline vars < ``host_vars/<host>``, with the vars
folders read beside each file source (or inside each folder source). Every failure is one
``InventoryError`` saying where.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diag.inventory.data import BuildError, InventoryData
from diag.inventory.ini import is_section_header, parse_ini
from diag.inventory.model import Inventory, implicit_localhost
from diag.inventory.plugin import evaluate, plugin_name
from diag.inventory.ranges import parse_address
from diag.inventory.saved_list import is_saved_list, parse_saved_list
from diag.inventory.vars_dirs import VarsDirs
from diag.inventory.yaml_source import YamlInventoryError, load_yaml, parse_yaml
from diag.shared.errors import InventoryError
from diag.shared.files import read_text

# ansible's INVENTORY_IGNORE_EXTS default, plus what it always skips in an inventory folder
IGNORE_EXTS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry")
_IGNORED = re.compile(
    r"^\.|^host_vars$|^group_vars$|^vars_plugins$|" + "|".join(re.escape(e) + "$" for e in IGNORE_EXTS)
)
YAML_EXTS = ("", ".yml", ".yaml", ".json")


def resolve_source(value: str, cwd: Path) -> Path | None:
    """The path an ``-i`` value names, or None for a comma host list; InventoryError if none exists."""
    expanded = os.path.expandvars(os.path.expanduser(value))
    path = cwd / expanded
    if "," in value and not _exists(path):
        return None
    if _exists(path):
        return path
    tried = [str(path)]
    if os.sep not in value.strip("/"):
        named = cwd / "inventories" / expanded
        if named.exists():
            return named
        tried.append(str(named))
    raise InventoryError(
        f"inventory source {value!r} not found (tried {', '.join(tried)})",
        hint="give a file, a folder, a comma list like 'host1,' or a name under inventories/",
    )


def _exists(path: Path) -> bool:
    """``path.exists()``, False too for a name the OS refuses (a long ``a,b,c,...`` host list)."""
    try:
        return path.exists()
    except OSError:
        return False


def parse_host_list(value: str, inv: InventoryData) -> None:
    """``a,b:2222,`` -> hosts in ``ungrouped`` (ansible's ``host_list`` plugin: no ranges)."""
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            host, port = parse_address(item, allow_ranges=False)
        except ValueError:
            host, port = item, None
        if host not in inv.hosts:
            inv.add_host(host, "ungrouped", port)


def _read(path: Path) -> str:
    try:
        text = read_text(path, what="inventory file", error=InventoryError)
    except FileNotFoundError:
        raise InventoryError("inventory file vanished while being read", where=str(path)) from None
    if text.startswith("#!") and os.access(path, os.X_OK):
        raise InventoryError(
            "executable inventory scripts are not supported (pfdiag never runs code from an inventory)",
            where=str(path),
            hint="save its output as a JSON file: ./script --list > inventory.json",
        )
    return text


def parse_file(path: Path, inv: InventoryData) -> InventoryData:
    """Parse one file as ansible would try its plugins: YAML (by extension) first, then INI."""
    if path.suffix == ".toml":
        raise InventoryError("TOML inventories are not supported", where=str(path), hint="use INI or YAML")
    text = _read(path)
    yaml_error: YamlInventoryError | None = None
    if path.suffix in YAML_EXTS and not (path.suffix == "" and _starts_as_ini(text)):
        saved = _saved_list(text)
        if saved is not None:
            attempt = copy.deepcopy(inv)
            parse_saved_list(saved, str(path), attempt)
            return attempt
        attempt = copy.deepcopy(inv)
        try:
            parse_yaml(text, str(path), attempt)
            return attempt
        except (YamlInventoryError, BuildError) as exc:
            yaml_error = exc if isinstance(exc, YamlInventoryError) else YamlInventoryError(str(exc))
    attempt = copy.deepcopy(inv)
    try:
        parse_ini(text, str(path), attempt)
        return attempt
    except InventoryError as ini_error:
        if yaml_error is None:
            raise
        if path.suffix or _is_yaml_mapping(text):
            where = f"{path}:{yaml_error.line}" if yaml_error.line else str(path)
            raise InventoryError(
                f"not a valid YAML inventory: {yaml_error}", where=where, hint=f"as INI: {ini_error.message}"
            ) from None
        raise  # an extensionless file that is not YAML: the INI error says what is wrong


def _starts_as_ini(text: str) -> bool:
    """Whether the first line that is not blank or a ``#`` comment is an INI section header.

    YAML reads ``[group]`` as a flow sequence, so such a file is never the mapping a YAML inventory
    is: for an extensionless file (tried as YAML first, as Ansible does) the attempt would only fail,
    after scanning the whole file (the host lines are one multi-line YAML scalar: ~0.3 s of CPU for
    1,000 hosts). If its INI fails too, the INI error is what the user sees either way.

    >>> _starts_as_ini("# hosts\\n\\n[web]\\nweb1\\n"), _starts_as_ini("all:\\n  hosts: {}\\n")
    (True, False)
    """
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            return is_section_header(line)
    return False


def _yaml_naming(text: str, key: str) -> Any:
    """``text`` parsed, when it names ``key`` at all (else None, unparsed: most inventories are static and
    are parsed once, by their own reader), or None when it is not YAML."""
    if key not in text:
        return None
    try:
        return load_yaml(text)  # JSON is YAML: one loader, with its size and alias guards
    except YamlInventoryError:
        return None


def _saved_list(text: str) -> Any:
    """A saved ``--list`` answer as parsed, or None for any other file."""
    data = _yaml_naming(text, "_meta")
    return data if is_saved_list(data) else None


def _plugin_configs(path: Path) -> list[tuple[Path, str]]:
    """The plugin configs in one ``-i`` source (a file, or the files of a folder), with their plugins."""
    if path.is_dir():
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return []  # parse_folder says why
        return [
            found for name in names if not _IGNORED.search(name) for found in _plugin_configs(path / name)
        ]
    if path.suffix not in YAML_EXTS or path.suffix == ".json":
        return []
    text = _read(path)  # refuses an executable script before Ansible could run it
    data = _yaml_naming(text, "plugin")
    plugin = plugin_name(path, data)
    return [] if plugin is None or is_saved_list(data) else [(path, plugin)]


def _is_yaml_mapping(text: str) -> bool:
    try:
        return isinstance(load_yaml(text), dict)
    except YamlInventoryError:
        return False


def parse_folder(folder: Path, inv: InventoryData) -> InventoryData:
    """Every inventory file in ``folder`` (sorted, recursively), skipping ansible's ignored names."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise InventoryError(f"cannot list inventory folder: {exc.strerror}", where=str(folder)) from None
    for name in names:
        if _IGNORED.search(name):
            continue
        path = folder / name
        inv = parse_folder(path, inv) if path.is_dir() else parse_file(path, inv)
    return inv


def _merge(*layers: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def _merged_vars(
    data: InventoryData, bases: list[Path], play_bases: list[Path]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    files = VarsDirs()
    group_file_vars = {name: _merge(*(files.group_vars(b, name) for b in bases)) for name in data.groups}
    group_vars: dict[str, dict[str, Any]] = {}
    for name, group in data.groups.items():
        play_vars = (files.group_vars(b, name) for b in play_bases)
        group_vars[name] = _merge(group.vars, group_file_vars[name], *play_vars)
        if group.priority != 1:
            group_vars[name]["ansible_group_priority"] = group.priority
    host_vars: dict[str, dict[str, Any]] = {}
    for name, host in data.hosts.items():
        groups = sorted(
            (data.groups[g] for g in host.groups if g != "all"), key=lambda g: (g.depth, g.priority, g.name)
        )
        host_vars[name] = _merge(
            data.groups["all"].vars,
            *(g.vars for g in groups),
            group_file_vars["all"],
            *(files.group_vars(b, "all") for b in play_bases),
            *(files.group_vars(b, g.name) for b in bases for g in groups),
            *(files.group_vars(b, g.name) for b in play_bases for g in groups),
            host.vars,
            *(files.host_vars(b, name) for b in bases),
            *(files.host_vars(b, name) for b in play_bases),
        )
    return host_vars, group_vars


def load_inventory(
    values: Sequence[str], cwd: Path | None = None, *, playbook_dir: Path | None = None
) -> Inventory:
    """Read every ``-i`` value into one Inventory; no values gives the implicit localhost only.

    ``playbook_dir`` adds the group_vars/host_vars beside a playbook, above the inventory's own
    (ansible's ``--playbook-dir``).
    """
    if not values:
        return implicit_localhost()
    cwd = cwd or Path.cwd()
    data = InventoryData()
    bases: list[Path] = []
    sources = [(value, resolve_source(value, cwd)) for value in values if value]
    plugins = [found for _, path in sources if path is not None for found in _plugin_configs(path)]
    if plugins:
        # Ansible evaluates plugins (and every source beside them, so `constructed` sees their hosts)
        answer = evaluate([str(path) if path else value for value, path in sources], plugins)
        parse_saved_list(answer, ", ".join(values), data)
        bases = [p.resolve() if p.is_dir() else p.parent.resolve() for _, p in sources if p is not None]
        sources = []
    for value, path in sources:
        try:
            if path is None:
                parse_host_list(value, data)
            elif path.is_dir():
                data = parse_folder(path, data)
                bases.append(path.resolve())
            else:
                data = parse_file(path, data)
                bases.append(path.parent.resolve())
        except BuildError as exc:
            raise InventoryError(str(exc), where=str(path or value)) from None
    try:
        data.reconcile()
    except BuildError as exc:
        raise InventoryError(str(exc), where=", ".join(values)) from None
    play_bases = [playbook_dir.resolve()] if playbook_dir else []
    host_vars, group_vars = _merged_vars(data, bases, play_bases)
    return Inventory.from_data(data, host_vars, group_vars, base_dir=str(cwd))
