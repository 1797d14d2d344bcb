"""YAML text -> plain Python data that remembers where each mapping and list came from.

In: a path (playbook, vars file, ``-e @file``) or a string. Out: dicts and lists as PyYAML's
SafeLoader builds them, except that mappings are ``MarkedMap`` and sequences ``MarkedList``, which
carry the 1-based ``line`` of the node and of each key / item, so validation can say file:line.
YAML syntax errors and duplicate keys become ``PlaybookError`` with file:line.

>>> data = load_yaml_text("- name: p\\n  tasks:\\n    - command: uptime\\n", "pb.yml")
>>> data[0].key_lines["tasks"], data[0]["tasks"][0].line
(2, 3)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, SequenceNode

from diag.shared.errors import PlaybookError
from diag.shared.files import read_text
from diag.shared.yamlsafe import construct_checked


class MarkedMap(dict[Any, Any]):
    """A YAML mapping with the line of the mapping and of each of its keys."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """The line of ``key``, or of the mapping itself when the key is absent."""
        return getattr(self, "key_lines", {}).get(key, self.line)


class MarkedList(list[Any]):
    """A YAML sequence with the line of the sequence and of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        lines = getattr(self, "item_lines", [])
        return lines[index] if index < len(lines) else self.line


# libyaml's parser when PyYAML was built with it (5x faster on triage.yml); both keep node marks.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MarkedLoader(_BaseLoader):
    """SafeLoader that records marks; ``name`` is the file name used in error messages."""

    name: str


def _construct_map(loader: MarkedLoader, node: MappingNode) -> Any:
    data = MarkedMap()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    loader.flatten_mapping(node)  # resolves YAML merge keys (<<) first
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise PlaybookError(
                f"mapping key must be a scalar, got {type(key).__name__}",
                where=f"{loader.name}:{key_node.start_mark.line + 1}",
            )
        if key in data:
            raise PlaybookError(
                f"duplicate key {key!r} (first at line {data.key_lines[key]})",
                where=f"{loader.name}:{key_node.start_mark.line + 1}",
                hint="remove one of them; YAML would silently keep only the last",
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_seq(loader: MarkedLoader, node: SequenceNode) -> Any:
    data = MarkedList()
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_object(child, deep=True) for child in node.value)


MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml_text(text: str, name: str) -> Any:
    """Parse YAML ``text``; ``name`` (usually the path) prefixes every error as ``name:line``."""
    loader = MarkedLoader(text)
    loader.name = name
    try:
        return construct_checked(loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = exc.problem or "invalid YAML"
        context = (
            f"{exc.context} at line {exc.context_mark.line + 1}" if exc.context and exc.context_mark else None
        )
        raise PlaybookError(
            f"YAML syntax error: {problem}",
            where=where,
            hint=context or "check indentation and quoting (a value starting with {{ must be quoted)",
        ) from None
    except yaml.YAMLError as exc:
        raise PlaybookError(f"YAML error: {exc}", where=name) from None
    finally:
        loader.dispose()


def load_yaml_file(path: Path, *, where: str | None = None, what: str = "file") -> Any:
    """Read and parse one YAML file; a missing or unreadable file names ``where`` (the reference)."""
    try:
        text = read_text(path, what=what, error=PlaybookError, where=where)
    except FileNotFoundError:
        raise PlaybookError(f"{what} {str(path)!r} not found", where=where) from None
    return load_yaml_text(text, str(path))
