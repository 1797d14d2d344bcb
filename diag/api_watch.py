"""``pfdiag watch`` as an API call: hosts and thresholds in, events out to every sink, a run folder.

In: a ``WatchRequest`` (the CLI's flags). Out: a ``WatchOutcome``, and a run folder written as it
happens: ``run.json`` (``"kind": "watch"``, at the start and at the end) and ``events.jsonl`` (every
event, flushed and fsynced per batch). Sinks: the live table on a terminal (or one line per event),
``--jsonl PATH|-``, ``--notify CMD`` / ``--notify-url URL`` (alerts only, on a worker thread so a
slow receiver never delays a tick). Ctrl-C or SIGTERM: the watch stops, everything is on disk.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

import yaml

import diag
from diag.errors import DiagError, ReportError, UsageError
from diag.history import history_path
from diag.history.baseline import DEFAULT_DAYS as DEFAULT_BASELINE_DAYS
from diag.history.baseline import Baselines, check_days, read_baselines
from diag.interrupt import sigterm_as_interrupt
from diag.notify import send_command, send_url
from diag.playbook.resolve import resolve_playbook
from diag.playbook.variables import parse_extra_vars
from diag.report.watch_view import CLEAR, event_line, render_table
from diag.runstore import write_error, write_json
from diag.safeio import open_append_new
from diag.secrets import redact_argv
from diag.transport import ConnectOptions
from diag.watch.rules import THRESHOLD_VARS, AlertTracker, Selection
from diag.watch.runner import WatchOptions, WatchSummary, now_ts, run_watch

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


def parse_duration(text: str, flag: str) -> float:
    """Seconds from ``90``, ``90s``, ``5m``, ``1.5h``.

    >>> parse_duration("5m", "--cooldown"), parse_duration("90", "--duration"), parse_duration("1.5h", "x")
    (300.0, 90.0, 5400.0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*", text)
    if not match:
        raise UsageError(f"{flag}: {text!r} is not a duration", hint="e.g. 90, 90s, 5m, 1h")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2] or "s"]


def thresholds(request: WatchRequest, cwd: Path) -> dict[str, float]:
    """The triage's thresholds (``playbooks/triage.yml`` vars), ``-e`` overriding them."""
    path = resolve_playbook("triage.yml", cwd=cwd)
    try:
        plays = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise DiagError(f"cannot read the triage thresholds from {path}: {exc}") from None
    merged: dict[str, Any] = {}
    for play in plays if isinstance(plays, list) else []:
        if isinstance(play, dict) and isinstance(play.get("vars"), dict):
            merged.update({k: v for k, v in play["vars"].items() if k not in merged})
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


def _hosts(request: WatchRequest, cwd: Path) -> list[tuple[str, Mapping[str, object]]]:
    from diag.inventory import implicit_localhost, load_inventory

    if request.inventories:
        selection = load_inventory(list(request.inventories), cwd=cwd).select(request.limit or "all")
    else:
        inventory = implicit_localhost()
        selection = inventory.select(request.limit) if request.limit else inventory.select("localhost")
    hosts: list[tuple[str, Mapping[str, object]]] = [(h.name, h.vars) for h in selection]
    if not hosts:
        raise UsageError("no hosts to watch", hint="check -i and -l")
    return hosts


def _run_dir(request: WatchRequest, cwd: Path) -> Path:
    if request.out_dir is not None:
        run_dir = request.out_dir if request.out_dir.is_absolute() else cwd / request.out_dir
    else:
        run_dir = cwd / "reports" / f"{time.strftime('%Y%m%d-%H%M%S')}-watch"
        for n in range(2, 100):
            if not run_dir.exists():
                break
            run_dir = run_dir.with_name(f"{time.strftime('%Y%m%d-%H%M%S')}-watch-{n}")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create run folder {str(run_dir)!r}: {exc}", where="-o") from None
    return run_dir


class _Notifier(threading.Thread):
    """Delivers alerts to --notify / --notify-url one at a time, off the watch's own threads."""

    def __init__(self, cmd: str | None, url: str | None, warn: list[str]) -> None:
        super().__init__(name="watch-notify", daemon=True)
        self.cmd, self.url, self.warn = cmd, url, warn
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def run(self) -> None:
        while (event := self.queue.get()) is not None:
            for problem in (
                send_command(self.cmd, event) if self.cmd else None,
                send_url(self.url, event) if self.url else None,
            ):
                if problem:
                    self.warn.append(problem)

    def finish(self) -> None:
        self.queue.put(None)
        self.join(timeout=15.0)


class _Sinks:
    """Where each batch of events goes: the run folder, --jsonl, the terminal, the notifier."""

    def __init__(
        self, request: WatchRequest, run_dir: Path, notifier: _Notifier | None, baselines: Baselines
    ) -> None:
        self.request, self.notifier, self.baselines = request, notifier, baselines
        self.usual: dict[str, str] = {}  # host -> its last tick against its audits ("3.0x usual minor/s")
        path = run_dir / "events.jsonl"
        try:  # 0600 like every run-folder file
            self.file: IO[str] = os.fdopen(open_append_new(path, keep=True), "w", encoding="utf-8")
        except OSError as exc:
            raise write_error(path, exc) from None
        self.jsonl: IO[str] | None = None
        self.jsonl_owned = False
        if request.jsonl == "-":
            self.jsonl = request.out
        elif request.jsonl:
            try:
                self.jsonl = open(request.jsonl, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
            except OSError as exc:
                raise UsageError(f"--jsonl: cannot open {request.jsonl!r}: {exc}") from None
            self.jsonl_owned = True
        self.lines = (
            request.out if request.out is not None and request.jsonl != "-" and not request.live else None
        )
        self.recent: list[str] = []
        self.drawn = 0.0

    def events(self, batch: list[dict[str, Any]]) -> None:
        self._compare(batch)
        text = "".join(json.dumps(e, default=str) + "\n" for e in batch)
        self.file.write(text)
        self.file.flush()
        os.fsync(self.file.fileno())
        if self.jsonl is not None:
            self.jsonl.write(text)
            self.jsonl.flush()
        for event in batch:
            line = event_line(event)
            if line and self.lines is not None:
                print(line, file=self.lines, flush=True)
            if line:
                self.recent = [*self.recent, line][-5:]
            if event["type"] == "alert" and self.notifier is not None:
                self.notifier.queue.put(event)

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
        out.write(CLEAR + table + "\n\n" + "\n".join(line[: size.columns] for line in self.recent) + "\n")
        out.flush()

    def close(self) -> None:
        self.file.close()
        if self.jsonl_owned and self.jsonl is not None:
            self.jsonl.close()


def watch(request: WatchRequest) -> WatchOutcome:
    """Validate, then watch until ``--count`` / ``--duration`` ends it (or Ctrl-C / SIGTERM)."""
    cwd = request.cwd or Path.cwd()
    if request.every_s <= 0:
        raise UsageError(f"--every must be positive, got {request.every_s:g}")
    if request.for_ticks < 1:
        raise UsageError(f"--for must be at least 1, got {request.for_ticks}")
    try:
        matches = tuple(re.compile(m) for m in request.matches)
    except re.error as exc:
        raise UsageError(f"--match: bad regular expression: {exc}") from None
    limits = thresholds(request, cwd)
    days = check_days(request.baseline_days)
    hosts = _hosts(request, cwd)
    baselines = read_baselines(
        history_path(request.history, cwd), (name for name, _ in hosts), days, time.time()
    )
    run_dir = _run_dir(request, cwd)
    selection = Selection(pids=frozenset(request.pids), matches=matches)
    tracker = AlertTracker(limits, request.for_ticks, request.cooldown_s, selection)
    options = WatchOptions(request.every_s, request.count, request.duration_s)
    meta: dict[str, Any] = {
        "kind": "watch",
        "version": diag.__version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
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
    write_json(run_dir / "run.json", meta)
    warnings: list[str] = [baselines.warning] if baselines.warning else []
    notifier = (
        _Notifier(request.notify, request.notify_url, warnings)
        if request.notify or request.notify_url
        else None
    )
    if notifier is not None:
        notifier.start()
    sinks = _Sinks(request, run_dir, notifier, baselines)
    sinks.events(_baseline_events(baselines, [name for name, _ in hosts]))
    end = (
        f"{request.count} ticks"
        if request.count
        else (f"{request.duration_s:g} s" if request.duration_s else "Ctrl-C")
    )
    title = (
        f"pfdiag watch: {len(hosts)} host(s), every {request.every_s:g} s, until {end}; run folder {run_dir}"
    )
    summary: WatchSummary | None = None
    interrupted = False
    try:
        with sigterm_as_interrupt():
            summary = run_watch(
                hosts,
                request.connect,
                options,
                tracker,
                sinks.events,
                lambda s, t: sinks.refresh(s, t, title),
            )
        interrupted = summary.interrupted
        sinks.refresh(summary, tracker, title, force=True)
    except KeyboardInterrupt:  # between the handler's install and the watch's own loop
        interrupted = True
    finally:
        sinks.close()
        if notifier is not None:
            notifier.finish()
    meta.update(
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        interrupted=interrupted,
        ended_by="interrupted" if interrupted else (summary.ended_by if summary else ""),
        counts=summary.counts if summary else {},
        logins={n: v.logins for n, v in summary.hosts.items()} if summary else {},
        warnings=warnings,
    )
    write_json(run_dir / "run.json", meta)
    return WatchOutcome(summary or WatchSummary(), run_dir, interrupted, tuple(warnings))


def _baseline_events(baselines: Baselines, hosts: list[str]) -> list[dict[str, Any]]:
    """What each host's usual is, said once at the start; without a readable history, one event
    (host None) saying so."""
    ts = now_ts()
    if not baselines.found or baselines.warning:
        return [{"type": "baseline", "host": None, "ts": ts, "summary": baselines.note}]
    return [{"type": "baseline", "host": h, "ts": ts, "summary": baselines.describe(h)} for h in hosts]


def is_watch_run(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a watch (``pfdiag report`` then renders its timeline)."""
    try:
        return json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("kind") == "watch"
    except (OSError, ValueError, AttributeError):
        return False


def load_watch(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A saved watch's metadata and events (a truncated last line is ignored)."""
    try:
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the watch in {str(run_dir)!r}: {exc}") from None
    events: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            events.append(json.loads(line))
        except ValueError:
            if number != len(lines):
                raise ReportError(
                    "bad line in the watch's events", where=f"{run_dir}/events.jsonl:{number}"
                ) from None
    return meta, events
