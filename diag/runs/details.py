"""A run's hosts read back one at a time from ``hosts.jsonl``, so the controller keeps each in brief.

In: a run folder's ``hosts.jsonl`` and where each host's line starts (``HostsFile.write`` returns it; a
reading pass notes it). Out: ``HostDetails`` (a host's whole result, for ``RunResult.details``), a run
read back in brief for ``pfdiag report`` (``read_run_in_brief``) and a recorded run for ``--replay``
whose hosts' answers stay on disk until each host is replayed (``index_recording``). A 10,000-host
folder is ~240 MB; the controller holds a ~KB brief per host and an offset, and reads a whole host
only for the few hosts a report details and, one at a time, for the exports.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from diag.findings import HostResult, RunResult
from diag.runs.store import (
    HOSTS_FILE_MAX_BYTES,
    RecordedHost,
    Recording,
    read_hosts,
    recorded_commands,
    recorded_host,
    reported_host,
)
from diag.shared.errors import ReportError
from diag.shared.files import read_line_at
from diag.transport.recording import RecordedCommand, StoredAnswers

__all__ = ["HostDetails", "index_recording", "read_run_in_brief"]

BAD_LINE = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def _line_at(path: Path, offset: int) -> str:
    return read_line_at(path, offset, what="host results", error=ReportError, limit=HOSTS_FILE_MAX_BYTES)


class HostDetails:
    """Each host's whole result, read back from its line of ``hosts.jsonl`` when asked for: the
    ``RunResult.details`` of a run whose hosts are held in brief."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offsets: dict[str, int] = {}

    def add(self, name: str, offset: int) -> None:
        """``name``'s line starts at byte ``offset``."""
        self.offsets[name] = offset

    def __call__(self, name: str) -> HostResult | None:
        """``name``'s whole result; None when it has no line (it never finished)."""
        offset = self.offsets.get(name)
        if offset is None:
            return None
        try:
            return reported_host(_line_at(self.path, offset))
        except BAD_LINE as exc:  # the file changed under the run (it is the run's own output)
            raise ReportError(f"bad line in run folder: {exc}", where=f"{self.path}@{offset}") from None


def read_run_in_brief(run_dir: Path) -> tuple[RunResult, list[str]]:
    """``read_run`` holding each host in brief (``HostResult.brief``), its details read back when a
    report or an export asks (``RunResult.details``)."""
    details = HostDetails(run_dir / "hosts.jsonl")

    def brief(line: str, offset: int) -> HostResult:
        result = reported_host(line)
        details.add(result.host, offset)
        return result.brief()

    run, _hosts, problems = read_hosts(run_dir, brief)
    run.details = details
    return run, problems


def _answers_at(path: Path, offset: int) -> tuple[RecordedCommand, ...]:
    try:
        entry = json.loads(_line_at(path, offset))
        return recorded_commands(entry)[0]
    except BAD_LINE as exc:
        raise ReportError(f"bad line in recorded run: {exc}", where=f"{path}@{offset}") from None


def _indexed_host(path: Path, line: str, offset: int) -> RecordedHost:
    """A recorded host as a replay needs it before it runs: a host that ended ``ok`` is replayed, so
    only its name, groups, vars and where its answers are (``StoredAnswers``) are kept; any other is
    not run again, so its whole result and commands are (they are rewritten into the new folder)."""
    entry: Any = json.loads(line)
    if not isinstance(entry, dict):
        raise TypeError("a line must be a JSON object")
    result = entry["result"]
    if result.get("status", "ok") != "ok":
        return recorded_host(entry)
    # its answers unpacked once now, so a damaged recording is refused before any host runs, as
    # ``load_recording`` refuses it, then let go
    recorded_commands(entry)
    host = HostResult(host=str(result["host"]), group_names=[str(g) for g in result.get("group_names") or ()])
    host_vars = entry.get("vars")
    return RecordedHost(
        result=host,
        commands=(),
        vars=dict(host_vars) if isinstance(host_vars, dict) else {},
        groups=tuple(host.group_names),
        stored=StoredAnswers(functools.partial(_answers_at, path, offset)),
    )


def index_recording(run_dir: Path) -> Recording:
    """``load_recording`` for ``--replay``: each ok host's answers are read when it is replayed."""
    run, hosts, problems = read_hosts(run_dir, functools.partial(_indexed_host, run_dir / "hosts.jsonl"))
    return Recording(run_dir, run, tuple(hosts), tuple(problems))
