"""Finding a playbook from what was typed after ``pfdiag run``.

In: a path or a bare name (``triage``, ``triage.yml``). Out: the path of an existing file, looked up
in this order: the path as given, ``./playbooks/NAME``, the playbooks shipped inside the installed
package, and (for a source checkout) the repository's ``playbooks/`` folder; ``.yml`` is added when
missing. A name found nowhere is a ``DiagError`` (exit 1) listing the places tried.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from diag.shared.errors import DiagError


def _candidates(name: str) -> list[str]:
    if name.endswith((".yml", ".yaml")):
        return [name]
    return [name, f"{name}.yml", f"{name}.yaml"]


def playbook_dirs(cwd: Path) -> list[Path]:
    """Where bare names are looked up, in order."""
    import diag

    dirs = [cwd / "playbooks"]
    try:
        shipped = resources.files("diag") / "playbooks"
        dirs.append(Path(str(shipped)))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - zip imports
        pass
    dirs.append(Path(diag.__file__).resolve().parent.parent / "playbooks")
    return dirs


def resolve_playbook(name: str, *, cwd: Path | None = None) -> Path:
    """The playbook file ``name`` refers to; raises ``DiagError`` when there is none."""
    cwd = cwd or Path.cwd()
    given = Path(name).expanduser()
    tried: list[str] = []
    folders: list[str] = []
    for candidate in _candidates(str(given)):
        path = Path(candidate) if Path(candidate).is_absolute() else cwd / candidate
        tried.append(str(path))
        if path.is_dir():
            folders.append(str(path))
        elif path.exists():  # a FIFO or device is refused when read, with what it is
            return path
    if not given.is_absolute() and len(given.parts) == 1:
        for folder in playbook_dirs(cwd):
            for candidate in _candidates(name):
                path = folder / candidate
                if str(folder) not in tried:
                    tried.append(str(folder))
                if path.is_file():
                    return path
    if folders:
        raise DiagError(f"playbook {folders[0]!r} is a directory", hint="give the playbook's .yml file")
    shipped = ", ".join(shipped_playbooks(cwd)) or "none"
    raise DiagError(
        f"playbook {name!r} not found", hint=f"looked in: {', '.join(tried)}; shipped playbooks: {shipped}"
    )


def shipped_playbooks(cwd: Path) -> list[str]:
    """Names of the playbooks a bare name can refer to (for hints and ``--help``)."""
    names: set[str] = set()
    for folder in playbook_dirs(cwd):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yml"))
    return sorted(names)
