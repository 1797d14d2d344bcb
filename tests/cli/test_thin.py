"""The CLI is thin: argv -> one library call -> exit code, read from its source (``ast``).

No file I/O, SQL, YAML, JSON or table rendering lives in ``diag/cli/``; each subcommand is a row in
``COMMANDS`` and, on every path through its handler, calls at most one function of a service package
(its output is rendered by ``diag.report`` and printed as it comes).
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from pathlib import Path

from diag.cli import build_parser
from diag.cli.main import COMMANDS

CLI = Path(__file__).resolve().parents[2] / "diag" / "cli"
FORBIDDEN_MODULES = {"sqlite3", "yaml", "json", "tabulate", "pandas", "shutil", "tempfile", "io"}
FORBIDDEN_NAMES = {"open", "load_playbook", "History", "load_inventory", "read_run", "write_text"}
FILE_METHODS = {"write_text", "write_bytes", "read_text", "read_bytes", "open", "mkdir", "unlink", "touch"}
SERVICES = ("diag.run", "diag.audit", "diag.watch", "diag.inventory")
# argument checks that build a request (they raise a UsageError on a bad value): not a library call
REQUEST_CHECKS = {"parse_duration", "notify_url"}


def _trees() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(CLI.glob("*.py"))}


def _service_names(tree: ast.AST) -> set[str]:
    """Names bound to service functions or modules by the ``from diag.<service> import ...`` in ``tree``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(SERVICES):
            # a class is a request record to fill in, not a call into the library
            names |= {
                a.asname or a.name
                for a in node.names
                if a.name not in REQUEST_CHECKS and not a.name[0].isupper()
            }
    return names


def _service_calls(node: ast.AST, names: set[str]) -> int:
    """Calls in ``node`` to a service function: ``f(...)`` or ``module.f(...)`` with a bound name."""
    count = 0
    for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
        func = call.func
        target = func.value if isinstance(func, ast.Attribute) else func
        if isinstance(target, ast.Name) and target.id in names:
            count += isinstance(func, ast.Name) or (isinstance(func, ast.Attribute) and func.attr[0] != "_")
    return count


def _paths(body: list[ast.stmt]) -> Iterator[list[ast.stmt]]:
    """The statement sequences through ``body``: an ``if`` whose body returns forks a path of its own."""
    path: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, ast.If) and stmt.body and isinstance(stmt.body[-1], ast.Return):
            path.append(stmt.test)  # type: ignore[arg-type]
            for branch in _paths(stmt.body):
                yield [*path, *branch]
            path.extend(stmt.orelse)
        else:
            path.append(stmt)
    yield path


def _handler(name: str) -> tuple[ast.FunctionDef, set[str]]:
    for tree in _trees().values():
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node, _service_names(tree)
    raise AssertionError(f"no handler {name} in diag/cli")


def test_the_cli_imports_no_sql_yaml_json_or_table_library() -> None:
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = {a.name.split(".")[0] for a in node.names} & FORBIDDEN_MODULES
            elif isinstance(node, ast.ImportFrom):
                found = {(node.module or "").split(".")[0]} & FORBIDDEN_MODULES
            else:
                continue
            assert not found, f"diag/cli/{name}:{node.lineno} imports {found}"


def test_the_cli_reads_and_writes_no_file_and_loads_no_playbook_inventory_or_history() -> None:
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
                raise AssertionError(f"diag/cli/{name}:{node.lineno} uses {node.id}")
            if isinstance(node, ast.alias) and node.name in FORBIDDEN_NAMES:
                raise AssertionError(f"diag/cli/{name} imports {node.name}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in FILE_METHODS, (
                    f"diag/cli/{name}:{node.lineno} .{node.func.attr}()"
                )


def test_every_subcommand_is_a_row_of_the_command_table() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(COMMANDS) == set(sub.choices)


def test_each_path_through_a_subcommand_makes_at_most_one_library_call() -> None:
    for command, handler in COMMANDS.items():
        node, names = _handler(handler.__name__)
        counts = [sum(_service_calls(s, names) for s in path) for path in _paths(node.body)]
        assert max(counts) == 1, f"{command}: {handler.__name__} makes {counts} service calls per path"


def test_the_path_counter_sees_two_calls_on_one_path() -> None:
    code = "def f(a):\n    if a:\n        return api.one()\n    api.two()\n    return api.three()\n"
    body = ast.parse(code).body[0].body  # type: ignore[attr-defined]
    assert [sum(_service_calls(s, {"api"}) for s in p) for p in _paths(body)] == [1, 2]
