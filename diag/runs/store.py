"""The run folder: where a run is written as it happens, and the one reader of it.

In: a ``RunResult`` being built and each host as it finishes. Out: ``run.json`` (metadata, written at
the start and again at the end), ``hosts.jsonl`` (one line per finished host, flushed and fsynced:
``{"host", "result", "raw", "commands", "vars"}``) and back: ``load_run`` (``pfdiag report``) and
``load_recording`` (``pfdiag run --replay``) read the same lines. Any ``OSError`` while writing is a
``ReportError`` naming the path (disk full, permission); a truncated last line (a killed run) is
ignored on reading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from diag.findings import HostResult, RunResult
from diag.inventory.model import Group, Host, Inventory
from diag.runs.meta import PLANNED_HOSTS, check_metadata, never_finished
from diag.runs.owner import check_claimable, is_marked, mark_run_dir
from diag.shared.errors import ReportError, UsageError
from diag.shared.files import check_output_dir, json_text, open_append_new, read_text, write_text
from diag.shared.limits import MAX_RUN_LOG_BYTES
from diag.shared.records import from_data, to_data
from diag.shared.secrets import Redactor
from diag.shared.units import folder_stamp
from diag.transport.recording import RecordedCommand, command_key

PROBE_KEY = command_key("sh -c '' pfdiag probe")  # what an old folder's ``raw`` answers


def check_out_dir(out_dir: Path, cwd: Path) -> Path:
    """``-o DIR`` against ``cwd``, refused (``UsageError``) if it holds files that are not a run
    folder's; nothing is written."""
    run_dir = out_dir if out_dir.is_absolute() else cwd / out_dir
    if run_dir.is_dir() and not is_marked(run_dir):
        check_claimable(run_dir)
    return run_dir


def make_run_dir(out_dir: Path | None, cwd: Path, stem: str) -> Path:
    """``-o DIR`` as given, else a fresh ``reports/<YYYYmmdd-HHMMSS>-<stem>/`` under ``cwd``; marked.

    ``-o`` may name a new folder, an empty one or a run folder; a folder holding anything else is
    refused before anything is written (its files would be overwritten, and pruned with the audit).
    """
    if out_dir is not None:
        run_dir = check_out_dir(out_dir, cwd)
        existed = run_dir.is_dir()
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create run folder {str(run_dir)!r}: {exc}", where="-o") from None
        check_output_dir(run_dir, "the run folder (-o)")
        if not is_marked(run_dir):
            mark_run_dir(run_dir, made=not existed)
        return run_dir
    base = cwd / "reports" / f"{folder_stamp()}-{stem}"
    for n in range(1, 100):
        run_dir = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            run_dir.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ReportError(f"cannot create run folder {str(run_dir)!r}: {exc}") from None
        mark_run_dir(run_dir, made=True)
        return run_dir
    raise ReportError(f"cannot find a free run folder name next to {str(base)!r}")


def write_error(path: Path, exc: OSError) -> ReportError:
    """The error of a run-folder or export file that cannot be written."""
    return ReportError(
        f"cannot write {str(path)!r}: {exc.strerror or exc}",
        hint="check the free space and the permissions of that folder (or choose another with -o)",
    )


def host_line(
    result: HostResult,
    commands: Sequence[RecordedCommand] = (),
    host_vars: Mapping[str, Any] | None = None,
    redactor: Redactor | None = None,
) -> str:
    """One host as its line of ``hosts.jsonl`` (no newline): the one encoder of a host's line.

    A sharded run sends this very text from the worker, so its folder holds the bytes a local run writes.
    """
    entry = {
        "host": result.host,
        "result": result.to_dict(),
        "raw": result.raw,
        "commands": to_data(tuple(commands)),
        "vars": dict(host_vars or {}),
    }
    return json_text(entry if redactor is None else redactor.data(entry))


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """``data`` as indented JSON (NaN as null), via a temp file and a rename (never half a file)."""
    write_text(path, json_text(data, indent=2) + "\n", what="run metadata")


class HostsFile:
    """``hosts.jsonl``: one line per finished host, on disk (flush + fsync) before the next one.

    ``sync_each`` False (a replay: it can simply be run again) fsyncs once, at ``close``: one fsync
    per host costs more than replaying the host.
    """

    def __init__(self, path: Path, redactor: Redactor, *, sync_each: bool = True) -> None:
        self.path = path
        self.redactor = redactor
        self.sync_each = sync_each
        try:
            self.handle: IO[str] = os.fdopen(open_append_new(path), "w", encoding="utf-8")
        except OSError as exc:
            raise write_error(path, exc) from None

    def write(
        self,
        result: HostResult,
        commands: Sequence[RecordedCommand] = (),
        host_vars: Mapping[str, Any] | None = None,
    ) -> None:
        line = host_line(result, commands, host_vars, self.redactor)
        try:
            self.handle.write(line + "\n")
            self.handle.flush()
            if self.sync_each:
                os.fsync(self.handle.fileno())
        except OSError as exc:
            raise write_error(self.path, exc) from None

    def close(self) -> None:
        try:
            if not self.handle.closed:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            self.handle.close()
        except OSError as exc:
            raise write_error(self.path, exc) from None


# hosts.jsonl is pfdiag's own output and grows with the fleet (diag/shared/limits.py says why this cap)
HOSTS_FILE_MAX_BYTES = MAX_RUN_LOG_BYTES


def read_run_json(run_dir: Path) -> Any:
    """The decoded ``run.json`` of any run folder (a run's, an audit's, a watch's), unchecked.

    ``ReportError`` when it is missing, unreadable (a FIFO, too big) or not JSON; the caller checks the
    fields its kind of folder needs (``check_metadata`` for a run).
    """
    meta_path = run_dir / "run.json"
    try:
        text = read_text(meta_path, what="run metadata", error=ReportError)
    except FileNotFoundError:
        raise ReportError(f"{str(run_dir)!r} is not a run folder (no run.json)") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ReportError(f"run.json is not JSON: {exc}", where=str(meta_path)) from None


def _metadata(run_dir: Path) -> tuple[RunResult, list[str]]:
    """``run.json`` checked field by field, and the hosts it planned (older folders: none)."""
    meta_path = run_dir / "run.json"
    meta = check_metadata(read_run_json(run_dir), str(meta_path))
    fields = set(RunResult.__dataclass_fields__) - {"hosts"}
    try:
        run = RunResult(**{k: v for k, v in meta.items() if k in fields})
    except TypeError as exc:
        raise ReportError(f"{str(meta_path)!r} lacks a run's metadata: {exc}") from None
    run.interrupted = run.interrupted or run.finished is None  # killed before it could say so
    return run, [str(h) for h in meta.get(PLANNED_HOSTS) or []]


def _lines(run_dir: Path, problems: list[str]) -> Iterator[tuple[str, bool, str]]:
    """Each line of hosts.jsonl as (where, is-last, line); a missing file goes to ``problems``."""
    hosts_path = run_dir / "hosts.jsonl"
    try:
        text = read_text(hosts_path, what="host results", error=ReportError, limit=HOSTS_FILE_MAX_BYTES)
    except FileNotFoundError:
        problems.append(f"{hosts_path} is missing: no host result was saved")
        return
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield f"{hosts_path}:{number}", number == len(lines), line


def load_run(run_dir: Path) -> RunResult:
    """Read a run folder (``run.json`` + ``hosts.jsonl``) back into a ``RunResult``; see ``read_run``."""
    return read_run(run_dir)[0]


def read_run(run_dir: Path) -> tuple[RunResult, list[str]]:
    """A run folder back as a ``RunResult``, plus what is missing from it (one sentence each).

    A truncated last line of ``hosts.jsonl`` (the run was killed mid-write) is skipped and said; each
    host ``run.json`` planned that has no line gets a result ``interrupted`` ("never finished").
    """
    recording = load_recording(run_dir)
    return recording.run, list(recording.problems)


@dataclass(frozen=True, slots=True)
class RecordedHost:
    """One host of a recorded run: its result, every command it answered, its inventory vars."""

    result: HostResult
    commands: tuple[RecordedCommand, ...]
    vars: dict[str, Any]
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recording:
    """A run folder as ``--replay`` reads it."""

    path: Path
    run: RunResult
    hosts: tuple[RecordedHost, ...]
    problems: tuple[str, ...] = ()  # what is missing from the folder (cut, never-finished hosts)

    def inventory(self) -> Inventory:
        """The recorded hosts and their groups, for ``-l`` and the plays' ``hosts:`` patterns."""
        hosts = {h.result.host: Host(h.result.host, h.vars, h.groups) for h in self.hosts}
        members: dict[str, list[str]] = {}
        for host in hosts.values():
            for group in host.groups or ("ungrouped",):
                members.setdefault(group, []).append(host.name)
        members.setdefault("ungrouped", [])
        groups = {"all": Group("all", children=tuple(members))}
        for name, names in members.items():
            groups[name] = Group(name, tuple(names), parents=("all",), depth=1)
        return Inventory(hosts, groups)


def read_host_line(line: str) -> RecordedHost:
    """A line of ``hosts.jsonl`` (``host_line``) back as the host's result, commands and vars.

    ValueError, KeyError or TypeError when it is not such a line; the folder reader says where.
    """
    entry = json.loads(line)
    if not isinstance(entry, dict):
        raise TypeError("a line must be a JSON object")
    return recorded_host(entry)


def recorded_host(entry: Mapping[str, Any]) -> RecordedHost:
    """A decoded line of ``hosts.jsonl`` as a ``RecordedHost`` (folders of every pfdiag version)."""
    raw = entry.get("raw")
    result = HostResult.from_dict(entry["result"], raw=raw)
    if "commands" in entry:
        commands = tuple(from_data(RecordedCommand, c) for c in entry["commands"] or ())
    else:  # folders written before commands were recorded: the probe's output is all there is
        commands = () if raw is None else (RecordedCommand(PROBE_KEY, 0, str(raw)),)
    host_vars = entry.get("vars")
    return RecordedHost(
        result=result,
        commands=commands,
        vars=dict(host_vars) if isinstance(host_vars, Mapping) else {},
        groups=tuple(str(g) for g in result.group_names),
    )


def load_recording(run_dir: Path) -> Recording:
    """Read a run folder with every host's recorded commands; ``ReportError`` says which line is bad."""
    run, planned = _metadata(run_dir)
    problems: list[str] = []
    hosts: list[RecordedHost] = []
    for where, last, line in _lines(run_dir, problems):
        try:
            hosts.append(read_host_line(line))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if last:
                problems.append(f"{where} is cut short (the run was killed mid-write)")
                break
            raise ReportError(f"bad line in run folder: {exc}", where=where) from None
    run.hosts = [h.result for h in hosts]
    missing = never_finished(planned, run.hosts)
    if missing:
        names = ", ".join(h.host for h in missing[:10]) + (", ..." if len(missing) > 10 else "")
        problems.append(f"{len(missing)} planned host(s) never finished: {names}")
        run.hosts.extend(missing)
        run.interrupted = True
    return Recording(run_dir, run, tuple(hosts), tuple(problems))
