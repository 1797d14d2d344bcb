"""The run folder: an OSError while writing it (disk full, a path that cannot be a file) is a
clear error naming the path, exit 1, not an internal error (250); the reader says which line is bad.

Runs replay a recorded folder (tests/data/runs), so nothing is sampled and the writes are the point.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diag.cli import ExitCode, main
from diag.runs.store import HostsFile, host_line, load_recording, load_run, read_host_line
from diag.shared.errors import ReportError
from diag.shared.secrets import Redactor

REPO = Path(__file__).resolve().parent.parent
QUIET = REPO / "tests" / "data" / "runs" / "quiet"
TRIAGE = str(REPO / "playbooks" / "triage.yml")


def run(capsys: Any, *argv: str) -> tuple[int, str]:
    code = main(["run", TRIAGE, "--replay", str(QUIET), *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    return code, err


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A real, nearly full filesystem: a tmpfs of ``size`` mounted on ``path`` (root only)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_under_the_run_folder_names_hosts_jsonl_and_exits_1(tmp_path: Path, capsys: Any) -> None:
    with tiny_filesystem(tmp_path / "full", "8k") as full:
        code, err = run(capsys, "-o", str(full / "run"))
    assert code == ExitCode.ERROR
    assert f"cannot write {str(full / 'run' / 'hosts.jsonl')!r}: No space left on device" in err
    assert "hint: check the free space" in err


def test_a_json_path_that_cannot_be_written_names_it_before_any_host(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    target = tmp_path / "a-file" / "result.json"
    code, err = run(capsys, "-o", str(tmp_path / "run"), "--json", str(target))
    # issue 8: output paths are checked before any host is contacted (a bad option, exit 5)
    assert code == ExitCode.BAD_OPTIONS
    assert err.startswith("ERROR: ") and f"{str(target)!r}" in err and "--json" in err  # Not a directory
    assert not (tmp_path / "run" / "hosts.jsonl").exists()  # nothing ran


def test_a_csv_folder_that_cannot_be_made_names_it(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "a-file").write_text("x\n")
    code, err = run(capsys, "-o", str(tmp_path / "run"), "--csv", str(tmp_path / "a-file" / "csv"))
    assert code == ExitCode.BAD_OPTIONS  # checked before any host is contacted (issue 8)
    assert str(tmp_path / "a-file" / "csv") in err


def test_a_bad_line_inside_hosts_jsonl_is_named_with_its_number(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text((QUIET / "run.json").read_text())
    lines = (QUIET / "hosts.jsonl").read_text().splitlines()
    (tmp_path / "hosts.jsonl").write_text("\n".join([lines[0], "{not json", lines[1]]) + "\n")
    with pytest.raises(ReportError) as caught:
        load_run(tmp_path)
    assert caught.value.where == f"{tmp_path / 'hosts.jsonl'}:2"
    # a truncated last line (a killed run) is ignored
    (tmp_path / "hosts.jsonl").write_text(lines[0] + "\n" + lines[1][:100])
    assert [h.host for h in load_run(tmp_path).hosts] == ["web02"]


def _written_line(path: Path, result: Any, commands: Any, host_vars: dict[str, Any]) -> str:
    hosts = HostsFile(path, Redactor({"s3cr3t-pw"}))
    hosts.write(result, commands, host_vars)
    hosts.close()
    return path.read_text()


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in (REPO / "tests" / "data" / "runs").iterdir() if p.is_dir())
)
def test_a_sharded_hosts_line_is_byte_for_byte_the_local_one(tmp_path: Path, folder: str) -> None:
    """The worker sends ``host_line`` (run/distributed/shards.py) and the client decodes it with
    ``read_host_line`` before writing: the folder must hold what a local run writes for that result."""
    for n, recorded in enumerate(load_recording(REPO / "tests" / "data" / "runs" / folder).hosts):
        result = recorded.result
        result.reason = "ssh: login with s3cr3t-pw refused" if result.status != "ok" else result.reason
        host_vars = {**recorded.vars, "ansible_password": "s3cr3t-pw"}
        local = _written_line(tmp_path / f"local-{n}.jsonl", result, recorded.commands, host_vars)
        wire = read_host_line(host_line(result, recorded.commands))  # what crosses from worker to client
        sharded = _written_line(tmp_path / f"sharded-{n}.jsonl", wire.result, wire.commands, host_vars)
        assert sharded == local
        assert "s3cr3t-pw" not in local and read_host_line(local).result.host == result.host


def test_a_nan_in_a_result_is_null_on_the_wire_and_in_the_folder(tmp_path: Path) -> None:
    recorded = load_recording(QUIET).hosts[0]
    finding = recorded.result.findings[0]
    recorded.result.findings[0] = dataclasses.replace(finding, value=float("nan"))
    wire = host_line(recorded.result, recorded.commands)
    assert "NaN" not in wire and read_host_line(wire).result.findings[0].value is None
    local = _written_line(tmp_path / "a.jsonl", recorded.result, recorded.commands, {})
    sharded = _written_line(tmp_path / "b.jsonl", read_host_line(wire).result, recorded.commands, {})
    assert sharded == local
