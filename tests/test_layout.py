"""The package layout is the pipeline: no import cycles inside ``diag``, not even in a function body."""

from __future__ import annotations

import ast
import re
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


# The pipeline, in order: a module may import from its own stage and the stages before it, never after.
# (STYLE.md and docs/design.md draw it; the services are run, then audit, which runs a run, then watch.)
STAGES = (
    ("diag", "diag.shared"),
    ("diag.inventory",),
    ("diag.transport",),
    ("diag.probe",),
    ("diag.findings",),
    ("diag.playbook",),
    ("diag.fleet",),
    ("diag.runs",),
    ("diag.history",),
    ("diag.report",),
    ("diag.notify",),
    ("diag.run",),
    ("diag.audit",),
    ("diag.watch",),
    ("diag.cli",),
    ("diag.__main__",),
)
MAX_LOOSE_MODULES = 4


def _stage(module: str) -> int:
    """The stage of ``module``: the one whose name is its longest prefix."""
    best, rank = -1, -1
    for number, names in enumerate(STAGES):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, rank = len(name), number
    assert rank >= 0, f"{module} belongs to no stage: add its package to STAGES (and to docs/design.md)"
    return rank


def _package(module: str, modules: dict[str, Path]) -> str:
    """The package a module lives in; a loose module at the top of ``diag`` is a node of its own."""
    if modules[module].name == "__init__.py" or module.count(".") == 1:
        return module
    return module.rsplit(".", 1)[0]


def test_every_import_goes_to_an_earlier_stage_or_its_own() -> None:
    modules = _modules()
    backwards = sorted(
        f"{source} -> {target}"
        for source, targets in _imports(modules).items()
        for target in targets
        if _stage(target) > _stage(source)
    )
    assert backwards == []


def test_packages_have_no_import_cycles_between_them() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, targets in _imports(modules).items():
        for target in targets:
            a, b = _package(source, modules), _package(target, modules)
            # a package's face re-exporting its own submodules is not a cycle
            if a != b and not b.startswith(a + "."):
                graph[a].add(b)
    assert _cycles(graph) == []


def test_stage_order_sees_an_import_that_runs_back_up() -> None:
    assert _stage("diag.report.markdown") > _stage("diag.fleet") > _stage("diag.shared.files")


def test_the_top_of_diag_holds_at_most_four_loose_modules() -> None:
    loose = sorted(p.name for p in DIAG.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose


def test_each_package_says_its_one_job_in_its_init() -> None:
    mute = [
        str(init.relative_to(DIAG.parent))
        for init in DIAG.rglob("__init__.py")
        if len(ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "") < 60
    ]
    assert mute == []


def test_notify_does_not_import_the_history() -> None:
    graph = _imports(_modules())
    leaks = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if source.startswith("diag.notify")
        for target in targets
        if target.startswith("diag.history")
    )
    assert leaks == []


def test_the_history_knows_no_playbook_check_id() -> None:
    """The history keeps what any playbook's results say; a check id in its code ties it to one playbook."""
    ids = {
        match
        for book in (DIAG.parent / "playbooks").glob("*.yml")
        for match in re.findall(r"^\s+id:\s*([\w-]+)\s*$", book.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert ids, "no check ids found in playbooks/"
    named = sorted(
        f"{path.name}: {check}"
        for path in (DIAG / "history").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for check in ids
        if node.value == check
    )
    assert named == []


def _importers(top: str) -> set[str]:
    return {
        name
        for name, path in _modules().items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == top)
        or (isinstance(node, ast.Import) and any(a.name.split(".")[0] == top for a in node.names))
    }


def test_asyncssh_stays_in_the_transport() -> None:
    users = _importers("asyncssh")
    assert users and all(name.startswith("diag.transport.") for name in users)


def test_paramiko_stays_in_the_transport_and_dask_in_the_sharded_run() -> None:
    assert all(name.startswith("diag.transport.") for name in _importers("paramiko"))
    sharded = _importers("dask") | _importers("distributed")
    assert all(name.startswith("diag.run.distributed") for name in sharded)
