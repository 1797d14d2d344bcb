"""The run folder: where a run is written as it happens, and the one reader of it.

In: a ``RunResult`` being built and each host as it finishes. Out: ``run.json`` (metadata, written at
the start and again at the end), ``hosts.jsonl`` (one line per finished host, flushed, fsynced in groups:
``{"host", "result", "commands", "raw_command", "vars"}``, each thing once) and back: ``load_run``
(``pfdiag report``) and ``load_recording`` (``pfdiag run --replay``) read the same lines. Any
``OSError`` while writing is a ``ReportError`` naming the path (disk full, permission); a truncated
last line (a killed run) is ignored on reading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from diag.findings import HostResult, RunResult
from diag.inventory.model import Group, Host, Inventory
from diag.runs.meta import PLANNED_HOSTS, check_metadata, never_finished
from diag.runs.owner import check_claimable, is_marked, mark_run_dir
from diag.shared.errors import ReportError, UsageError
from diag.shared.files import check_output_dir, json_text, open_append_new, read_lines, read_text, write_text
from diag.shared.group_sync import GroupSync
from diag.shared.limits import MAX_RUN_LOG_BYTES
from diag.shared.records import from_data, to_data
from diag.shared.secrets import Redactor
from diag.shared.units import folder_stamp
from diag.transport.recording import (
    RecordedCommand,
    StoredAnswers,
    command_key,
    pack_stdout,
    unpack_command,
)

T = TypeVar("T")
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
    Each thing is stored once (~24 KB for a probed host, ~78 KB before): the result in its stored form
    (``HostResult.to_stored``); the probe's answer only in the recorded command that printed it
    (``raw_command`` is its index; ``raw`` as text only when no recorded command printed it); outputs
    over 2 KiB packed (``pack_stdout``) after the secrets are masked.
    """
    entry: dict[str, Any] = {"host": result.host, "result": result.to_stored()}
    raw = result.raw
    at = next((i for i, c in enumerate(commands) if c.stdout is raw or c.stdout == raw), None)
    if raw is not None and at is None:
        entry["raw"] = raw
    entry["commands"] = to_data(tuple(commands))
    if raw is not None and at is not None:
        entry["raw_command"] = at
    entry["vars"] = dict(host_vars or {})
    masked: dict[str, Any] = entry if redactor is None else redactor.data(entry)
    masked["commands"] = [pack_stdout(c) for c in masked["commands"]]
    return json_text(masked, compact=True)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """``data`` as indented JSON (NaN as null), via a temp file and a rename (never half a file)."""
    write_text(path, json_text(data, indent=2) + "\n", what="run metadata")


class HostsFile:
    """``hosts.jsonl``: one line per finished host, flushed as it is written (a crash or Ctrl-C of
    pfdiag keeps it) and fsynced within ``SYNC_WITHIN_S`` (``GroupSync``: one fsync for the lines of
    the hosts that finish together, not one a host).

    ``sync_each`` False (a replay: it can simply be run again) fsyncs once, at ``close``.
    """

    def __init__(self, path: Path, redactor: Redactor, *, sync_each: bool = True) -> None:
        self.path = path
        self.redactor = redactor
        self.sync_each = sync_each
        self.size = 0  # bytes written: where the next line starts
        try:
            self.handle: IO[str] = os.fdopen(open_append_new(path), "w", encoding="utf-8")
        except OSError as exc:
            raise write_error(path, exc) from None
        self.sync = GroupSync(self.handle.fileno(), name="pfdiag-hosts-fsync") if sync_each else None

    def write(
        self,
        result: HostResult,
        commands: Sequence[RecordedCommand] = (),
        host_vars: Mapping[str, Any] | None = None,
    ) -> int:
        """Append the host's line; returns the byte offset it starts at (``read_host_at`` reads it back)."""
        line = host_line(result, commands, host_vars, self.redactor) + "\n"
        try:
            self.handle.write(line)
            self.handle.flush()
            if self.sync is not None:
                self.sync.written()
        except OSError as exc:
            raise write_error(self.path, exc) from None
        offset = self.size
        self.size += len(line.encode("utf-8"))
        return offset

    def close(self) -> None:
        try:
            if not self.handle.closed:
                self.handle.flush()
                if self.sync is not None:
                    self.sync.close()
                    self.sync = None
                else:
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
    fields = set(RunResult.__dataclass_fields__) - {"hosts", "details"}
    try:
        run = RunResult(**{k: v for k, v in meta.items() if k in fields})
    except TypeError as exc:
        raise ReportError(f"{str(meta_path)!r} lacks a run's metadata: {exc}") from None
    run.interrupted = run.interrupted or run.finished is None  # killed before it could say so
    return run, [str(h) for h in meta.get(PLANNED_HOSTS) or []]


def _lines(run_dir: Path, problems: list[str]) -> Iterator[tuple[str, bool, str, int]]:
    """Each line of hosts.jsonl as (where, is-last, line, byte offset); a missing file goes to
    ``problems``."""
    hosts_path = run_dir / "hosts.jsonl"
    try:
        lines = read_lines(hosts_path, what="host results", error=ReportError, limit=HOSTS_FILE_MAX_BYTES)
    except FileNotFoundError:
        problems.append(f"{hosts_path} is missing: no host result was saved")
        return
    offset = 0
    for number, line, last in lines:  # one at a time: the file is GBs at 100,000 hosts
        if line.strip():
            yield f"{hosts_path}:{number}", last, line, offset
        offset += len(line.encode("utf-8")) + 1


def load_run(run_dir: Path) -> RunResult:
    """Read a run folder (``run.json`` + ``hosts.jsonl``) back into a ``RunResult``; see ``read_run``."""
    return read_run(run_dir)[0]


def read_run(run_dir: Path) -> tuple[RunResult, list[str]]:
    """A run folder back as a ``RunResult``, plus what is missing from it (one sentence each).

    A truncated last line of ``hosts.jsonl`` (the run was killed mid-write) is skipped and said; each
    host ``run.json`` planned that has no line gets a result ``interrupted`` ("never finished").
    The reports need no host's raw output nor its recorded commands: neither is kept (read line by
    line, a 2,000-host folder is reported holding its results only).
    """
    run, _hosts, problems = read_hosts(run_dir, lambda line, _offset: reported_host(line))
    return run, problems


@dataclass(frozen=True, slots=True)
class RecordedHost:
    """One host of a recorded run: its result, every command it answered, its inventory vars."""

    result: HostResult
    commands: tuple[RecordedCommand, ...]
    vars: dict[str, Any]
    groups: tuple[str, ...]
    # its commands left on disk (``diag.runs.details.index_recording``; ``commands`` is empty then)
    stored: StoredAnswers | None = None


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


def recorded_commands(entry: Mapping[str, Any]) -> tuple[tuple[RecordedCommand, ...], str | None]:
    """A decoded line's recorded commands and the probe's raw answer, without its result (what a
    replayed host needs: building the result it replaces cost a third of reading the line)."""
    raw = entry.get("raw")
    if "commands" in entry:
        commands = tuple(from_data(RecordedCommand, unpack_command(c)) for c in entry["commands"] or ())
        if "raw_command" in entry:  # written since the probe's answer is stored once
            raw = commands[int(entry["raw_command"])].stdout
    else:  # folders written before commands were recorded: the probe's output is all there is
        commands = () if raw is None else (RecordedCommand(PROBE_KEY, 0, str(raw)),)
    return commands, raw


def recorded_host(entry: Mapping[str, Any]) -> RecordedHost:
    """A decoded line of ``hosts.jsonl`` as a ``RecordedHost`` (folders of every pfdiag version:
    ``raw`` only, ``raw`` + ``commands``, ``commands`` + ``raw_command`` with packed outputs)."""
    commands, raw = recorded_commands(entry)
    result = HostResult.from_dict(entry["result"], raw=raw)
    host_vars = entry.get("vars")
    return RecordedHost(
        result=result,
        commands=commands,
        vars=dict(host_vars) if isinstance(host_vars, Mapping) else {},
        groups=tuple(str(g) for g in result.group_names),
    )


def reported_host(line: str) -> HostResult:
    """A line of ``hosts.jsonl`` as the host's result only (what the reports read): its recorded
    commands and raw output are left out."""
    entry = json.loads(line)
    if not isinstance(entry, dict):
        raise TypeError("a line must be a JSON object")
    return HostResult.from_dict(entry["result"])


def load_recording(run_dir: Path) -> Recording:
    """Read a run folder with every host's recorded commands; ``ReportError`` says which line is bad."""
    run, hosts, problems = read_hosts(run_dir, lambda line, _offset: read_host_line(line))
    return Recording(run_dir, run, tuple(hosts), tuple(problems))


def read_hosts(run_dir: Path, parse: Callable[[str, int], T]) -> tuple[RunResult, list[T], list[str]]:
    """``run.json``, then each line of ``hosts.jsonl`` through ``parse`` (``read_host_line`` or
    ``reported_host``, given the line and its offset); the run's hosts are the parsed results
    (``RecordedHost.result`` or a ``HostResult``), with the never-finished added."""
    run, planned = _metadata(run_dir)
    problems: list[str] = []
    hosts: list[T] = []
    for where, last, line, offset in _lines(run_dir, problems):
        try:
            hosts.append(parse(line, offset))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            if last:
                problems.append(f"{where} is cut short (the run was killed mid-write)")
                break
            raise ReportError(f"bad line in run folder: {exc}", where=where) from None
    run.hosts = [h.result if isinstance(h, RecordedHost) else cast(HostResult, h) for h in hosts]
    missing = never_finished(planned, run.hosts)
    if missing:
        names = ", ".join(h.host for h in missing[:10]) + (", ..." if len(missing) > 10 else "")
        problems.append(f"{len(missing)} planned host(s) never finished: {names}")
        run.hosts.extend(missing)
        run.interrupted = True
    return run, hosts, problems
