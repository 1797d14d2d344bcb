"""YAML with bounds: every YAML pfdiag reads (playbooks, vars files, inventories, ``-e``) goes through here.

In: a PyYAML loader holding the text. Out: the constructed document, after its node graph was checked:
no alias that refers to a node containing itself (``a: &a [*a]`` would build a list containing itself,
which JSON, copies and reports cannot handle), at most ``MAX_YAML_NODES`` nodes once aliases are
expanded (a 491-byte "billion laughs" expands to 10^9) and at most ``MAX_YAML_DEPTH`` levels. A
violation is a ``YamlBoundsError``, a ``MarkedYAMLError`` with the line, so every caller's existing
"YAML error at file:line" handling reports it.

>>> load_text("a: &x [1, 2]\\nb: *x\\n")
{'a': [1, 2], 'b': [1, 2]}
>>> load_text("a: &a [*a]\\n")
Traceback (most recent call last):
...
diag.shared.yamlsafe.YamlBoundsError: ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from diag.shared.limits import MAX_INPUT_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES


class YamlBoundsError(yaml.MarkedYAMLError):
    """A document that is valid YAML but refers to itself or is too large once expanded."""


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, SequenceNode):
        yield from node.value
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _refuse(problem: str, node: Node) -> YamlBoundsError:
    return YamlBoundsError(problem=problem, problem_mark=node.start_mark)


def check_nodes(root: Node) -> None:
    """Refuse cycles, more than ``MAX_YAML_NODES`` expanded nodes, or nesting over ``MAX_YAML_DEPTH``.

    Iterative, and each shared (aliased) node is sized once, so checking is linear in the text.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = {id(root)}
    frames: list[tuple[Node, Iterator[Node], list[int]]] = [(root, _children(root), [1])]
    while frames:
        node, children, total = frames[-1]
        child = next(children, None)
        if child is None:
            frames.pop()
            on_path.discard(id(node))
            sizes[id(node)] = total[0]
            if frames:
                frames[-1][2][0] += total[0]
                if frames[-1][2][0] > MAX_YAML_NODES:
                    raise _refuse(f"more than {MAX_YAML_NODES:,} values once aliases are expanded", node)
            continue
        if id(child) in on_path:
            raise _refuse("an alias refers to the node that contains it (a circular reference)", child)
        if id(child) in sizes:
            total[0] += sizes[id(child)]
            if total[0] > MAX_YAML_NODES:
                raise _refuse(f"more than {MAX_YAML_NODES:,} values once aliases are expanded", child)
            continue
        if len(frames) >= MAX_YAML_DEPTH:
            raise _refuse(f"nested deeper than {MAX_YAML_DEPTH} levels", child)
        on_path.add(id(child))
        frames.append((child, _children(child), [1]))


def construct_checked(loader: Any) -> Any:
    """``loader.get_single_data()``, with the node graph checked before anything is constructed."""
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_nodes(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_text(text: str) -> Any:
    """``yaml.safe_load`` with the bounds above (for ``-e`` values and small snippets)."""
    if len(text) > MAX_INPUT_BYTES:
        raise YamlBoundsError(problem=f"YAML text larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    return construct_checked(yaml.SafeLoader(text))
