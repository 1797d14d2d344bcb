"""Oracle helpers: run the real ``ansible-inventory`` / ``ansible --list-hosts`` from an empty cwd."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "inventories"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "inventories"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/inventories")

needs_ansible = pytest.mark.skipif(
    shutil.which("ansible-inventory") is None, reason="ansible-inventory (ansible-core) is not installed"
)


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "0"}
    env.pop("ANSIBLE_CONFIG", None)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def ansible_inventory(sources: list[str], cwd: Path, *view: str) -> str:
    argv = ["ansible-inventory"]
    for source in sources:
        argv += ["-i", source]
    result = _run([*argv, *view], cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def ansible_list(sources: list[str], cwd: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ansible_inventory(sources, cwd, "--list"))
    return data


def ansible_list_hosts(sources: list[str], cwd: Path, limit: str) -> list[str]:
    """Host names ``ansible all --list-hosts -l LIMIT`` prints (none when it finds no host)."""
    argv = ["ansible", "all", "--list-hosts", "-l", limit]
    for source in sources:
        argv += ["-i", source]
    result = _run(argv, cwd)
    if result.returncode != 0:
        assert "no hosts to target" in result.stderr, result.stderr
        return []
    lines = result.stdout.splitlines()
    assert lines[0].strip().startswith("hosts ("), result.stdout
    return [line.strip() for line in lines[1:] if line.strip()]
