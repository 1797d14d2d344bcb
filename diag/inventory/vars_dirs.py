"""``group_vars/`` and ``host_vars/`` beside an inventory source, read like ansible's ``host_group_vars``.

In: the folder holding ``group_vars``/``host_vars`` and a group or host name. Out: the merged vars
of ``<dir>/<name>``, ``<name>.yml``/``.yaml``/``.json`` (first that exists) or every file below a
folder ``<name>/`` (sorted, recursively; hidden files and ``~`` backups skipped, files with another
extension skipped). Later files replace earlier top-level keys. A broken file raises
``InventoryError`` with file:line.

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "group_vars" / "web").mkdir(parents=True)
>>> _ = (root / "group_vars" / "web" / "a.yml").write_text("port: 80\\nname: a\\n")
>>> _ = (root / "group_vars" / "web" / "b.yml").write_text("name: b\\n")
>>> VarsDirs().group_vars(root, "web")
{'port': 80, 'name': 'b'}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from diag.inventory.yaml_source import YamlInventoryError, load_yaml
from diag.shared.errors import InventoryError
from diag.shared.files import read_text

VARS_EXTENSIONS = ("", ".yml", ".yaml", ".json")


def _dir_files(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise InventoryError(f"cannot list vars folder: {exc.strerror}", where=str(folder)) from None
    found: list[Path] = []
    for entry in entries:
        if entry.name.startswith(".") or entry.name.endswith("~"):
            continue
        if entry.is_dir() and not entry.suffix:
            found.extend(_dir_files(entry))
        elif entry.is_file() and entry.suffix in VARS_EXTENSIONS:
            found.append(entry)
    return found


def find_vars_files(folder: Path, name: str) -> list[Path]:
    """Files that hold vars for ``name`` in ``folder`` (ansible's ``DataLoader.find_vars_files``)."""
    for ext in VARS_EXTENSIONS:
        candidate = folder / f"{name}{ext}"
        if candidate.exists():
            return _dir_files(candidate) if candidate.is_dir() else [candidate]
    return []


def load_vars_file(path: Path) -> dict[str, Any]:
    """One YAML/JSON vars file -> its mapping ({} when empty)."""
    try:
        text = read_text(path, what="vars file", error=InventoryError)
    except FileNotFoundError:
        raise InventoryError("vars file vanished while being read", where=str(path)) from None
    try:
        data = load_yaml(text)
    except YamlInventoryError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise InventoryError(str(exc), where=where, hint="fix the YAML of this vars file") from None
    if not data:
        return {}
    if not isinstance(data, dict):
        raise InventoryError(
            f"vars file must hold a mapping of variables, got {type(data).__name__}",
            where=f"{path}:1",
            hint="write it as 'name: value' lines",
        )
    return data


class VarsDirs:
    """Reads and caches vars files; one instance per ``load_inventory`` call."""

    def __init__(self) -> None:
        self._cache: dict[Path, dict[str, Any]] = {}
        self._folders: dict[Path, bool] = {}

    def _vars_for(self, base: Path, subdir: str, name: str) -> dict[str, Any]:
        if name.startswith("/"):
            return {}
        folder = base / subdir
        present = self._folders.get(folder)
        if present is None:  # looked at once per folder, not once per host and group
            present = folder.is_dir()
            if present:
                try:
                    os.listdir(folder)
                except OSError as exc:
                    raise InventoryError(
                        f"cannot list vars folder: {exc.strerror}", where=str(folder)
                    ) from None
            self._folders[folder] = present
        if not present:
            return {}
        merged: dict[str, Any] = {}
        for path in find_vars_files(folder, name):
            if path not in self._cache:
                self._cache[path] = load_vars_file(path)
            merged.update(self._cache[path])
        return merged

    def group_vars(self, base: Path, group: str) -> dict[str, Any]:
        return self._vars_for(base, "group_vars", group)

    def host_vars(self, base: Path, host: str) -> dict[str, Any]:
        return self._vars_for(base, "host_vars", host)
