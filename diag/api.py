"""The small API the CLI calls: run a playbook into a run folder, list hosts/tasks, read a run back.

In: a frozen ``RunRequest`` (what ``pfdiag run`` was asked). Out: a ``RunResult``, plus the run folder:
``run.json`` (written at the start and again at the end), ``hosts.jsonl`` (one line per host the
moment it finishes, flushed and fsynced), and the reports (``diag.report.write_reports``).
Ctrl-C / SIGTERM stop scheduling; what finished stays on disk and the run is marked ``interrupted``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import IO, Any, TextIO

import diag
from diag.errors import ReportError, UsageError
from diag.findings import HostResult, RunResult
from diag.playbook import DEFAULT_FORKS
from diag.playbook.engine import Engine, EngineOptions
from diag.playbook.model import Play, Playbook, Task, task_selected
from diag.playbook.resolve import resolve_playbook
from diag.playbook.schedule import HostLike, schedule
from diag.playbook.validate import load_playbook
from diag.playbook.variables import parse_extra_vars
from diag.progress import Progress
from diag.secrets import Redactor, redact_argv, redact_vars, secret_values
from diag.transport import ConnectOptions

# Whatever a host needs beyond the sampling interval(s): connect, facts, the rest of the tasks.
DEADLINE_MARGIN_S = 60.0


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything ``pfdiag run`` needs; ``extra_vars`` are the raw ``-e`` strings.

    ``host_deadline_s`` None: 60 s plus the sampling interval of each ``sample`` task.
    ``emit`` receives the ``-v`` lines and warnings (from worker threads, one call at a time).
    ``progress`` is where the fleet progress line goes (shown only when it is a terminal).
    """

    playbook: str
    inventories: tuple[str, ...] = ()
    limit: str | None = None
    extra_vars: tuple[str, ...] = ()
    forks: int = DEFAULT_FORKS
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    connect: ConnectOptions = field(default_factory=ConnectOptions)
    host_deadline_s: float | None = None
    out_dir: Path | None = None
    json_path: Path | None = None
    csv_dir: Path | None = None
    plots: bool = False
    verbosity: int = 0
    fail_on: str | None = None
    argv: tuple[str, ...] = ()
    cwd: Path | None = None
    emit: Callable[[str], None] | None = None
    progress: TextIO | None = None
    scheduler: str | None = None  # --scheduler tcp://HOST:PORT: shard the run over that Dask cluster
    workers: int | None = None  # --workers N: shard it over a local cluster of N processes


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request checked end to end before anything runs: playbook, -e vars, hosts and their plays."""

    playbook: Playbook
    extra_vars: dict[str, Any]
    hosts: list[HostLike]
    plan: list[tuple[HostLike, list[Play]]]


class _AllHosts:
    """Without ``-i`` every play runs on the implicit localhost, whatever its ``hosts:`` says."""

    def __init__(self, hosts: Sequence[HostLike]) -> None:
        self.hosts = list(hosts)

    def select(self, pattern: str) -> list[HostLike]:
        return self.hosts


def _cwd(request: RunRequest) -> Path:
    return request.cwd or Path.cwd()


def check_syntax(request: RunRequest) -> Playbook:
    """``--syntax-check``: parse ``-e`` and validate the whole playbook; run nothing, connect nowhere."""
    parse_extra_vars(request.extra_vars, cwd=_cwd(request))
    return load_playbook(resolve_playbook(request.playbook, cwd=_cwd(request)))


def list_tasks(request: RunRequest) -> list[tuple[Play, list[Task]]]:
    """``--list-tasks``: each play with the tasks ``--tags``/``--skip-tags`` keep."""
    playbook = check_syntax(request)
    return [
        (play, [t for t in play.tasks if task_selected(t, request.tags, request.skip_tags)])
        for play in playbook.plays
    ]


def prepare(request: RunRequest) -> Prepared:
    """Validate everything (vars, playbook, inventory, limit, play patterns) before anything runs."""
    cwd = _cwd(request)
    extra_vars = parse_extra_vars(request.extra_vars, cwd=cwd)
    playbook = load_playbook(resolve_playbook(request.playbook, cwd=cwd))
    from diag.inventory import implicit_localhost, load_inventory

    if request.inventories:
        inventory: Any = load_inventory(list(request.inventories), cwd=cwd)
        selection = inventory.select(request.limit or "all")
    else:
        inventory = implicit_localhost()
        selection = inventory.select(request.limit) if request.limit else inventory.select("localhost")
        inventory = _AllHosts(selection)
    for warning in getattr(selection, "warnings", []):
        _emit(request, f"[WARNING]: {warning}")
    hosts: list[HostLike] = list(selection)
    return Prepared(playbook, extra_vars, hosts, schedule(playbook, inventory, hosts))


def list_hosts(request: RunRequest) -> list[tuple[Play, list[str]]]:
    """``--list-hosts``: each play with the names of the hosts it would run on."""
    prepared = prepare(request)
    return [
        (play, [host.name for host, plays in prepared.plan if play in plays])
        for play in prepared.playbook.plays
    ]


def _emit(request: RunRequest, line: str) -> None:
    if request.emit is not None:
        request.emit(line)


def _interval_s(prepared: Prepared) -> float | None:
    """The requested sampling interval: ``-e interval_s``, else the first play's ``interval_s`` var."""
    for source in [prepared.extra_vars, *(p.vars for p in prepared.playbook.plays)]:
        value = source.get("interval_s")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _deadline_s(request: RunRequest, prepared: Prepared) -> float:
    if request.host_deadline_s is not None:
        return request.host_deadline_s
    samples = sum(1 for play in prepared.playbook.plays for task in play.tasks if task.module == "sample")
    return max(request.connect.host_deadline_s, DEADLINE_MARGIN_S + samples * (_interval_s(prepared) or 5.0))


def make_run_dir(request: RunRequest, stem: str) -> Path:
    """``-o DIR`` as given, else a fresh ``reports/<YYYYmmdd-HHMMSS>-<playbook>/`` under the cwd."""
    if request.out_dir is not None:
        run_dir = request.out_dir if request.out_dir.is_absolute() else _cwd(request) / request.out_dir
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create run folder {str(run_dir)!r}: {exc}", where="-o") from None
        return run_dir
    base = _cwd(request) / "reports" / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}"
    for n in range(1, 100):
        run_dir = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
        except OSError as exc:
            raise ReportError(f"cannot create run folder {str(run_dir)!r}: {exc}") from None
    raise ReportError(f"cannot find a free run folder name next to {str(base)!r}")


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class _HostsFile:
    """``hosts.jsonl``: one line per finished host, on disk (flush + fsync) before the next one."""

    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.path = path
        self.redactor = redactor
        self.handle: IO[str] = path.open("w", encoding="utf-8")

    def write(self, result: HostResult, raw: str | None) -> None:
        entry = {"host": result.host, "result": result.to_dict(), "raw": raw}
        line = json.dumps(self.redactor.data(entry), default=str)
        self.handle.write(line + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C while a run is in progress (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _preload_reports() -> None:
    with contextlib.suppress(Exception):  # a real import error shows when the reports are written
        importlib.import_module("diag.report.files")


@contextmanager
def _engines(request: RunRequest) -> Iterator[Callable[..., Any]]:
    """What runs the hosts: the engine here, or (``--scheduler``/``--workers``) shards on a Dask cluster.

    The cluster is reached before the run folder exists and before any host is contacted; dask is
    imported only then.
    """
    if request.scheduler is None and request.workers is None:
        yield Engine
        return
    if importlib.util.find_spec("distributed") is None:
        flag = "--scheduler" if request.scheduler is not None else "--workers"
        raise UsageError(f"{flag} needs dask distributed", hint="pip install 'pfdiag[distributed]'")
    from diag import distributed

    cluster = distributed.connect(
        request.scheduler, request.workers, timeout_s=request.connect.connect_timeout_s
    )
    try:
        yield functools.partial(distributed.ShardedEngine, cluster)
    finally:
        cluster.close()


def run_playbook(request: RunRequest) -> RunResult:
    """Validate, run the playbook on the selected hosts, and write the run folder as hosts finish."""
    prepared = prepare(request)
    with _engines(request) as make_engine:
        return _run_prepared(request, prepared, make_engine)


def _run_prepared(request: RunRequest, prepared: Prepared, make_engine: Callable[..., Any]) -> RunResult:
    run_dir = make_run_dir(request, prepared.playbook.stem)
    redactor = Redactor(secret_values(prepared.extra_vars, *(h.vars for h, _ in prepared.plan)))
    run = RunResult(
        playbook=str(prepared.playbook.path),
        inventory=list(request.inventories),
        limit=request.limit,
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        argv=redact_argv(request.argv),
        extra_vars=redactor.data(redact_vars(prepared.extra_vars)),
        interval_s=_interval_s(prepared),
        version=diag.__version__,
        run_dir=str(run_dir),
    )
    _write_json(run_dir / "run.json", run.metadata())
    connect = replace(request.connect, host_deadline_s=_deadline_s(request, prepared))
    options = EngineOptions(
        forks=request.forks,
        tags=request.tags,
        skip_tags=request.skip_tags,
        connect=connect,
        extra_vars=prepared.extra_vars,
        verbosity=request.verbosity,
        playbook_dir=str(prepared.playbook.path.parent),
    )
    hosts_file = _HostsFile(run_dir / "hosts.jsonl", redactor)
    progress = Progress(len(prepared.plan), request.progress)

    def host_done(result: HostResult, raw: str | None) -> None:
        hosts_file.write(result, raw)
        progress.host_done(result)

    def emit(line: str) -> None:
        if request.emit is not None:
            progress.clear()
            request.emit(redactor.text(line))
            progress.draw()

    engine = make_engine(options, emit=emit, on_host_done=host_done)
    # pandas and the report modules take ~0.4 s to import: do it while remote hosts sample. Not while
    # this machine samples itself: the import's own page faults would be in its counters.
    preload = None
    if any(str(host.vars.get("ansible_connection")) == "local" for host, _ in prepared.plan):
        _preload_reports()
    else:
        preload = threading.Thread(target=_preload_reports, name="pfdiag-preload", daemon=True)
        preload.start()
    try:
        with _sigterm_as_interrupt():
            run.hosts = engine.run(prepared.plan)
    finally:
        hosts_file.close()
        progress.clear()
    if redactor.values:  # whatever a task templated a secret into (a message, a reason) is masked too
        run.hosts = [
            HostResult.from_dict(redactor.data(h.to_dict()), raw=h.raw and redactor.text(h.raw))
            for h in run.hosts
        ]
    run.interrupted = engine.interrupted
    if run.interval_s is None:
        run.interval_s = next((h.sample.get("interval_s") for h in run.hosts if h.sample), None)
    run.finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _write_json(run_dir / "run.json", run.metadata())
    if preload is not None:
        preload.join()
    from diag.report import write_reports

    json_path = request.json_path
    if json_path is not None and not json_path.is_absolute():
        json_path = _cwd(request) / json_path
    csv_dir = request.csv_dir
    if csv_dir is not None and not csv_dir.is_absolute():
        csv_dir = _cwd(request) / csv_dir
    write_reports(run, run_dir, json_path=json_path, csv_dir=csv_dir, plots=request.plots)
    return run


def load_run(run_dir: Path) -> RunResult:
    """Read a run folder (``run.json`` + ``hosts.jsonl``) back into a ``RunResult``.

    A truncated last line of ``hosts.jsonl`` (the run was killed mid-write) is ignored.
    """
    meta_path = run_dir / "run.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{str(run_dir)!r} is not a run folder (no run.json)") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {str(meta_path)!r}: {exc}") from None
    fields = set(RunResult.__dataclass_fields__) - {"hosts"}
    run = RunResult(**{k: v for k, v in meta.items() if k in fields})
    run.interrupted = run.interrupted or run.finished is None  # killed before it could say so
    hosts_path = run_dir / "hosts.jsonl"
    lines = hosts_path.read_text(encoding="utf-8").splitlines() if hosts_path.exists() else []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            run.hosts.append(HostResult.from_dict(entry["result"], raw=entry.get("raw")))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):
                break
            raise ReportError(f"bad line in run folder: {exc}", where=f"{hosts_path}:{number}") from None
    return run
