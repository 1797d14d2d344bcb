"""``pfdiag watch`` as an API call: hosts and thresholds in, events out to every sink, a run folder.

In: a ``WatchRequest`` (the CLI's flags). Out: a ``WatchOutcome``, and a run folder written as it
happens: ``run.json`` (``"kind": "watch"``, at the start and at the end) and ``events.jsonl`` (every
event, flushed and fsynced per batch). Sinks: the live table on a terminal (or one line per event),
``--jsonl PATH|-``, ``--notify CMD`` / ``--notify-url URL`` (alerts only, on a worker thread so a
slow receiver never delays a tick). Ctrl-C or SIGTERM: the watch stops, everything is on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

import diag
from diag.history import history_path
from diag.history.baseline import DEFAULT_DAYS as DEFAULT_BASELINE_DAYS
from diag.history.baseline import Baselines, check_days, read_baselines
from diag.playbook.language.variables import parse_extra_vars
from diag.playbook.resolve import resolve_playbook
from diag.playbook.validate import load_playbook
from diag.report.watch_view import CLEAR, event_line, render_table
from diag.run.service import select_hosts
from diag.runs.store import make_run_dir, write_error, write_json
from diag.shared.errors import DiagError, ReportError, UsageError
from diag.shared.files import open_append_new
from diag.shared.limits import check_interval, finite_positive
from diag.shared.secrets import redact_argv
from diag.shared.signals import sigterm_as_interrupt
from diag.shared.units import now_stamp, utc_stamp_ms
from diag.transport import ConnectOptions
from diag.watch.rules import THRESHOLD_VARS, AlertTracker, Selection
from diag.watch.runner import MISSING_PIDS, WatchOptions, WatchSummary, run_watch
from diag.watch.sinks import (
    JsonlOut,
    Notifier,
    OutputClosed,
    Reserve,
    output_error,
    reader_gone,
    undelivered_warning,
)

DEFAULT_COOLDOWN_S = 300.0
REFRESH_S = 0.25


@dataclass(frozen=True, slots=True)
class WatchRequest:
    every_s: float
    count: int | None = None
    duration_s: float | None = None
    inventories: tuple[str, ...] = ()
    limit: str | None = None
    extra_vars: tuple[str, ...] = ()
    pids: tuple[int, ...] = ()
    matches: tuple[str, ...] = ()
    for_ticks: int = 1
    cooldown_s: float = DEFAULT_COOLDOWN_S
    notify: str | None = None
    notify_url: str | None = None
    jsonl: str | None = None
    out_dir: Path | None = None
    connect: ConnectOptions = field(default_factory=ConnectOptions)
    argv: tuple[str, ...] = ()
    history: Path | None = None  # --history: each host's audits, read once at the start
    baseline_days: float = DEFAULT_BASELINE_DAYS
    cwd: Path | None = None
    out: TextIO | None = None  # terminal output (live table or event lines); None: nothing
    live: bool = False  # redraw a table in place (stdout is a terminal)


@dataclass(frozen=True, slots=True)
class WatchOutcome:
    summary: WatchSummary
    run_dir: Path
    interrupted: bool
    warnings: tuple[str, ...] = ()
    error: DiagError | None = None  # what ended the watch early (run.json says it too), for the CLI


TRIAGE = "triage.yml"  # whose vars are the thresholds: found as `pfdiag run triage.yml` finds it


def thresholds(request: WatchRequest, cwd: Path) -> dict[str, float]:
    """The triage's thresholds (its plays' vars), ``-e`` overriding them.

    The playbook is found and read as ``pfdiag run triage.yml`` finds and reads it (a ``./triage.yml``
    included, size and alias guards, validation), so the watch alerts on the numbers a run checks.
    """
    playbook = load_playbook(resolve_playbook(TRIAGE, cwd=cwd))
    merged: dict[str, Any] = {}
    for play in playbook.plays:
        for layer in (play.vars, play.vars_files_vars):
            merged.update({k: v for k, v in layer.items() if k not in merged})
    merged.update(parse_extra_vars(request.extra_vars, cwd=cwd))
    out: dict[str, float] = {}
    for name in THRESHOLD_VARS:
        value = merged.get(name)
        if value is None:
            continue
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"-e {name}: {value!r} is not a number") from None
    return out


def _hosts(request: WatchRequest, cwd: Path) -> tuple[list[tuple[str, Mapping[str, object]]], list[str]]:
    """The hosts ``-i`` and ``-l`` select, as ``run`` selects them, and the selection's warnings."""
    _, selection, warnings = select_hosts(request.inventories, request.limit, cwd)
    hosts: list[tuple[str, Mapping[str, object]]] = [(h.name, h.vars) for h in selection]
    if not hosts:
        raise UsageError("no hosts to watch", hint="check -i and -l")
    return hosts, warnings


def _run_dir(request: WatchRequest, cwd: Path) -> Path:
    """The watch's folder, made and marked like every run folder (``-o`` into other files is refused)."""
    return make_run_dir(request.out_dir, cwd, "watch")


class _Sinks:
    """Where each batch of events goes: the run folder, --jsonl, the terminal, the notifier."""

    def __init__(
        self,
        request: WatchRequest,
        run_dir: Path,
        jsonl: JsonlOut | None,
        notifier: Notifier | None,
        baselines: Baselines,
    ) -> None:
        self.request, self.jsonl, self.notifier, self.baselines = request, jsonl, notifier, baselines
        self.usual: dict[str, str] = {}  # host -> its last tick against its audits ("3.0x usual minor/s")
        self.path = run_dir / "events.jsonl"
        try:
            # 0600 like every run-folder file
            self.file: IO[str] = os.fdopen(open_append_new(self.path, keep=True), "w", encoding="utf-8")
        except OSError as exc:
            raise write_error(self.path, exc) from None
        self.lines = (
            request.out if request.out is not None and request.jsonl != "-" and not request.live else None
        )
        self.recent: list[str] = []
        self.drawn = 0.0

    def events(self, batch: list[dict[str, Any]]) -> None:
        self._compare(batch)
        text = "".join(json.dumps(e, default=str) + "\n" for e in batch)
        try:
            self.file.write(text)
            self.file.flush()
            os.fsync(self.file.fileno())
        except OSError as exc:  # a full disk: the watch stops and says so (runner: summary.error)
            raise write_error(self.path, exc) from None
        if self.jsonl is not None:
            self.jsonl.write(text)
        elif self.request.jsonl == "-":
            self._say(text)
        for event in batch:
            line = event_line(event)
            if line and self.lines is not None:
                self._say(line + "\n")
            if line:
                self.recent = [*self.recent, line][-5:]
            if event["type"] == "alert" and self.notifier is not None:
                self.notifier.put(event)
        out = self.request.out
        if out is not None and (self.lines is not None or self.request.jsonl == "-") and reader_gone(out):
            raise output_error(out, BrokenPipeError())

    def _compare(self, batch: list[dict[str, Any]]) -> None:
        """Each tick's host-wide rates against the host's usual ones (a lookup and two divisions);
        an alert carries the host's latest comparison."""
        if not self.baselines.found or self.baselines.warning:
            return
        for event in batch:
            host = event.get("host")
            if event["type"] == "sample" and isinstance(host, str):
                self.usual[host] = self.baselines.compare(host, event.get("rates") or {}).label
            if event["type"] in ("sample", "alert") and isinstance(host, str) and host in self.usual:
                event["vs_usual"] = self.usual[host]

    def refresh(self, summary: WatchSummary, tracker: AlertTracker, title: str, force: bool = False) -> None:
        out = self.request.out
        if not self.request.live or out is None or (not force and time.monotonic() - self.drawn < REFRESH_S):
            return
        self.drawn = time.monotonic()
        size = shutil.get_terminal_size((100, 40))
        rows = max(10, size.lines - len(self.recent) - 3)
        table = render_table(summary, tracker, title, rows=rows, width=size.columns, usual=self.usual)
        self._say(CLEAR + table + "\n\n" + "\n".join(line[: size.columns] for line in self.recent) + "\n")

    def _say(self, text: str) -> None:
        """Write to the terminal (or stdout); a reader gone or a full device ends the watch."""
        out = self.request.out
        if out is None:
            return
        try:
            out.write(text)
            out.flush()
        except OSError as exc:
            raise output_error(out, exc) from None

    def close(self) -> ReportError | None:
        """Close the files; the error of a last flush that failed (a full disk), to be reported."""
        if self.jsonl is not None:
            self.jsonl.close()
        try:
            self.file.close()
        except OSError as exc:
            return write_error(self.path, exc)
        return None


def watch(request: WatchRequest) -> WatchOutcome:
    """Validate, then watch until ``--count`` / ``--duration`` ends it (or Ctrl-C / SIGTERM)."""
    cwd = request.cwd or Path.cwd()
    check_interval(request.every_s, "--every")
    if request.duration_s is not None:
        finite_positive(request.duration_s, "--duration")  # 0 would be one tick titled "until Ctrl-C"
    if request.for_ticks < 1:
        raise UsageError(f"--for must be at least 1, got {request.for_ticks}")
    try:
        matches = tuple(re.compile(m) for m in request.matches)
    except re.error as exc:
        raise UsageError(f"--match: bad regular expression: {exc}") from None
    limits = thresholds(request, cwd)
    days = check_days(request.baseline_days)
    hosts, selection_warnings = _hosts(request, cwd)
    baselines = read_baselines(
        history_path(request.history, cwd), (name for name, _ in hosts), days, time.time()
    )
    run_dir = _run_dir(request, cwd)
    # before run.json: a --jsonl refused (a FIFO nobody reads) leaves no run that never started
    jsonl = JsonlOut(request.jsonl) if request.jsonl and request.jsonl != "-" else None
    selection = Selection(pids=frozenset(request.pids), matches=matches)
    tracker = AlertTracker(limits, request.for_ticks, request.cooldown_s, selection)
    options = WatchOptions(request.every_s, request.count, request.duration_s)
    meta: dict[str, Any] = {
        "kind": "watch",
        "version": diag.__version__,
        "started": now_stamp(),
        "finished": None,
        "argv": redact_argv(request.argv),
        "inventory": list(request.inventories),
        "limit": request.limit,
        "hosts": [name for name, _ in hosts],
        "every_s": request.every_s,
        "count": request.count,
        "duration_s": request.duration_s,
        "pids": list(request.pids),
        "matches": list(request.matches),
        "for_ticks": request.for_ticks,
        "cooldown_s": request.cooldown_s,
        "thresholds": limits,
        "baseline_days": days,
        "history_note": baselines.note,
        "interrupted": False,
        "run_dir": str(run_dir),
    }
    try:
        write_json(run_dir / "run.json", meta)
    except ReportError:
        if jsonl is not None:
            jsonl.close()
        raise
    reserve = Reserve(run_dir / "run.json")
    warnings = [*selection_warnings, *([baselines.warning] if baselines.warning else [])]
    notifier = (
        Notifier(request.notify, request.notify_url, warnings)
        if request.notify or request.notify_url
        else None
    )
    if notifier is not None:
        notifier.start()
    try:
        sinks = _Sinks(request, run_dir, jsonl, notifier, baselines)
    except DiagError:
        reserve.release()
        raise
    # said with the first batch, inside the runner, which turns a sink that cannot be written into the
    # watch's error (a `--jsonl /dev/full` still leaves a finished run.json)
    first = _baseline_events(baselines, [name for name, _ in hosts])

    def on_events(batch: list[dict[str, Any]]) -> None:
        nonlocal first
        batch, first = [*first, *batch], []
        sinks.events(batch)

    end = (
        f"{request.count} ticks"
        if request.count
        else (f"{request.duration_s:g} s" if request.duration_s else "Ctrl-C")
    )
    title = (
        f"pfdiag watch: {len(hosts)} host(s), every {request.every_s:g} s, until {end}; run folder {run_dir}"
    )
    summary = WatchSummary()
    interrupted = False
    try:
        with sigterm_as_interrupt():
            summary = run_watch(
                hosts,
                request.connect,
                options,
                tracker,
                on_events,
                lambda s, t: sinks.refresh(s, t, title),
            )
        interrupted = summary.interrupted
        if summary.error is None:
            with contextlib.suppress(OutputClosed):  # the events are all saved: only the last redraw is lost
                sinks.refresh(summary, tracker, title, force=True)
    except KeyboardInterrupt:  # between the handler's install and the watch's own loop
        interrupted = True
    except Exception:
        reserve.release()
        raise
    finally:
        error = sinks.close() or summary.error
        if isinstance(error, OutputClosed):  # `pfdiag watch | head -1`: a quiet end, as for `run`
            error, summary.ended_by = None, "output closed"
        undelivered = notifier.finish() if notifier is not None else []
    if undelivered:
        warnings.append(undelivered_warning(undelivered))
    if summary.missing_pids and summary.ended_by != MISSING_PIDS:
        warnings.append(f"--pid {', '.join(map(str, summary.missing_pids))}: no such process on any host")
    meta.update(
        finished=now_stamp(),
        interrupted=interrupted,
        ended_by="interrupted" if interrupted else summary.ended_by,
        counts=summary.counts,
        logins={n: v.logins for n, v in summary.hosts.items()},
        warnings=warnings,
    )
    if error is not None:
        meta["error"] = error.message
    _finish_run_json(run_dir / "run.json", meta, reserve)
    if summary.ended_by == MISSING_PIDS:
        error = UsageError(
            f"--pid {', '.join(map(str, summary.missing_pids))}: no such process on "
            + ", ".join(n for n, v in summary.hosts.items() if v.logins),
            hint="check the pid (pgrep -f NAME), or follow processes by name with --match REGEX",
        )
    return WatchOutcome(summary, run_dir, interrupted, tuple(warnings), error)


def _baseline_events(baselines: Baselines, hosts: list[str]) -> list[dict[str, Any]]:
    """What each host's usual is, said once at the start; without a readable history, one event
    (host None) saying so."""
    ts = utc_stamp_ms()
    if not baselines.found or baselines.warning:
        return [{"type": "baseline", "host": None, "ts": ts, "summary": baselines.note}]
    return [{"type": "baseline", "host": h, "ts": ts, "summary": baselines.describe(h)} for h in hosts]


def _finish_run_json(path: Path, meta: Mapping[str, Any], reserve: Reserve) -> None:
    """The final ``run.json``; on a full disk through the space reserved at the start."""
    try:
        write_json(path, meta)
    except ReportError:
        if not reserve.commit(json.dumps(meta, indent=2, default=str) + "\n"):
            raise
    else:
        reserve.release()
