"""The package layout is the pipeline: no import cycles inside ``diag``, not even in a function body."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

DIAG = Path(__file__).resolve().parent.parent / "diag"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in DIAG.rglob("*.py"):
        name = ".".join(path.relative_to(DIAG.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's ``diag`` imports, anywhere in its body (``from pkg import mod`` counts mod)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("diag"):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    graph[name].add(target if target in modules else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_diag_has_no_import_cycles() -> None:
    assert _cycles(_imports(_modules())) == []


def test_cycle_finder_sees_a_cycle_hidden_in_a_function_body() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_fabric_is_imported_only_by_the_ssh_transport() -> None:
    users = {
        name
        for name, path in _modules().items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "fabric")
        or (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "fabric" for a in node.names))
    }
    assert users <= {"diag.transport.ssh"}
