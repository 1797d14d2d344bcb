"""Write a playbook to a temp folder and run it on this machine through the real local transport."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from diag.findings import HostResult
from diag.inventory import Host
from diag.playbook.engine import Engine, EngineOptions
from diag.playbook.validate import load_playbook


def write_playbook(tmp_path: Path, text: str, name: str = "pb.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def run_on_localhost(
    tmp_path: Path, text: str, *, host_vars: dict[str, Any] | None = None, **options: Any
) -> tuple[HostResult, list[str]]:
    """Run the playbook on a local host; return its result and the -v lines printed."""
    playbook = load_playbook(write_playbook(tmp_path, text))
    lines: list[str] = []
    host = Host("localhost", {"ansible_connection": "local", **(host_vars or {})}, ())
    engine = Engine(EngineOptions(verbosity=1, **options), emit=lines.append)
    [result] = engine.run([(host, list(playbook.plays))])
    return result, lines
