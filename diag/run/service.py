"""The small API the CLI calls: run a playbook into a run folder, list hosts/tasks, read a run back.

In: a frozen ``RunRequest`` (what ``pfdiag run`` was asked). Out: a ``RunResult``, plus the run folder
(``diag.runs.store``: ``run.json``, ``hosts.jsonl`` as hosts finish) and the reports
(``diag.report.write_reports``). With ``replay`` the hosts are those of a recorded run folder, answered
by the replay transport from what they answered then. Ctrl-C / SIGTERM stop scheduling; what finished
stays on disk and the run is marked ``interrupted``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.util
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import diag
from diag.findings import HostResult, RunResult
from diag.history import history_path
from diag.history.baseline import DEFAULT_DAYS as DEFAULT_BASELINE_DAYS
from diag.history.baseline import Baselines, check_days, read_baselines
from diag.playbook import DEFAULT_FORKS
from diag.playbook.argcheck import check_extra_var_args
from diag.playbook.engine import Engine, EngineOptions
from diag.playbook.language.model import Play, Playbook, Task, task_selected
from diag.playbook.language.variables import parse_extra_vars
from diag.playbook.resolve import resolve_playbook
from diag.playbook.schedule import HostLike, schedule
from diag.playbook.validate import load_playbook
from diag.report.progress import Progress
from diag.run.garbage_collection import collect_less
from diag.runs.details import HostDetails, index_recording
from diag.runs.meta import PLANNED_HOSTS
from diag.runs.store import (
    HostsFile,
    Recording,
    check_out_dir,
    load_run,
    make_run_dir,
    read_run,
    write_json,
)
from diag.shared.errors import UsageError
from diag.shared.files import check_output_dir, check_output_file
from diag.shared.secrets import Redactor, redact_argv, redact_vars, secret_values
from diag.shared.signals import sigterm_as_interrupt
from diag.shared.units import now_stamp
from diag.transport import ConnectOptions
from diag.transport.recording import RecordedCommand, recorded_answers
from diag.transport.replay import REPLAY_VAR

__all__ = [
    "RunRequest",
    "check_syntax",
    "list_hosts",
    "list_tasks",
    "load_run",
    "prepare",
    "read_run",
    "run_playbook",
]

# Whatever a host needs beyond the sampling interval(s): connect, facts, the rest of the tasks.
DEADLINE_MARGIN_S = 60.0
# A replay's hosts answer at once, so its work is all parsing and templating: more threads than this
# only contend for the GIL (200 threads cost a third more CPU than 8 on a 200-host replay).
REPLAY_FORKS = 8


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything ``pfdiag run`` needs; ``extra_vars`` are the raw ``-e`` strings.

    ``host_deadline_s`` None: 60 s plus the sampling interval of each ``sample`` task.
    ``emit`` receives the ``-v`` lines and warnings (from worker threads, one call at a time).
    ``progress`` is where the fleet progress line goes (shown only when it is a terminal).
    ``replay`` is a recorded run folder to answer from instead of the hosts (``--replay``).
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
    replay: Path | None = None
    scheduler: str | None = None  # --scheduler tcp://HOST:PORT: shard the run over that Dask cluster
    workers: int | None = None  # --workers N: shard it over a local cluster of N processes
    history: Path | None = None  # --history: the audits to compare with (None: $PFDIAG_HISTORY or default)
    baseline_days: float = DEFAULT_BASELINE_DAYS  # --baseline-days: how far back "usual" looks


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request checked end to end before anything runs: playbook, -e vars, hosts and their plays.

    ``kept``: in a replay, the hosts that did not end ``ok`` in the recording, with their recorded
    result (they are not run again).
    """

    playbook: Playbook
    extra_vars: dict[str, Any]
    hosts: list[HostLike]
    plan: list[tuple[HostLike, list[Play]]]
    kept: dict[str, HostResult] = field(default_factory=dict)
    recording: Recording | None = None


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
    extra_vars = parse_extra_vars(request.extra_vars, cwd=_cwd(request))
    playbook = load_playbook(resolve_playbook(request.playbook, cwd=_cwd(request)))
    check_extra_var_args(playbook, extra_vars)
    return playbook


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
    check_extra_var_args(playbook, extra_vars)
    if request.replay is not None:
        return _prepare_replay(request, playbook, extra_vars)
    inventory, hosts, warnings = select_hosts(request.inventories, request.limit, cwd)
    for warning in warnings:
        _emit(request, f"[WARNING]: {warning}")
    return Prepared(playbook, extra_vars, hosts, schedule(playbook, inventory, hosts))


def select_hosts(
    inventories: Sequence[str], limit: str | None, cwd: Path
) -> tuple[Any, list[HostLike], list[str]]:
    """The hosts ``-i`` and ``-l`` select (no ``-i``: the implicit localhost), the inventory the plays
    are scheduled against, and the selection's warnings; ``run`` and ``watch`` both select here."""
    from diag.inventory import implicit_localhost, load_inventory

    if inventories:
        inventory: Any = load_inventory(list(inventories), cwd=cwd)
        selection = inventory.select(limit or "all")
    else:
        inventory = implicit_localhost()
        selection = inventory.select(limit) if limit else inventory.select("localhost")
        inventory = _AllHosts(selection)
    return inventory, list(selection), list(getattr(selection, "warnings", []))


def _prepare_replay(request: RunRequest, playbook: Playbook, extra_vars: dict[str, Any]) -> Prepared:
    """The recorded hosts (``-l`` applies), each answering from its recorded commands; the recorded
    run's ``-e`` vars, overridden by this request's."""
    if request.inventories:
        raise UsageError("--replay takes its hosts from the recorded run", hint="drop -i")
    assert request.replay is not None
    replay_dir = request.replay if request.replay.is_absolute() else _cwd(request) / request.replay
    recording = index_recording(replay_dir)  # each host's answers are read when it is replayed
    inventory = recording.inventory()
    selection = inventory.select(request.limit or "all")
    for warning in selection.warnings:
        _emit(request, f"[WARNING]: {warning}")
    recorded = {h.result.host: h for h in recording.hosts}
    hosts: list[Any] = []  # inventory Hosts
    kept: dict[str, HostResult] = {}
    for host in selection:
        entry = recorded[host.name]
        if entry.result.status != "ok":
            kept[host.name] = entry.result
        answers = entry.stored if entry.stored is not None else list(entry.commands)
        replay_vars = {**host.vars, "ansible_connection": "replay", REPLAY_VAR: answers}
        hosts.append(type(host)(host.name, replay_vars, host.groups))
    merged = {**recording.run.extra_vars, **extra_vars}
    # what the run still needs of the recording is its metadata
    recording.run.hosts = []
    recording = dataclasses.replace(recording, hosts=())
    return Prepared(playbook, merged, hosts, schedule(playbook, inventory, hosts), kept, recording)


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
    return max(DEADLINE_MARGIN_S, DEADLINE_MARGIN_S + samples * (_interval_s(prepared) or 5.0))


def _preload_reports() -> None:
    with contextlib.suppress(Exception):  # a real import error shows when the reports are written
        importlib.import_module("diag.report.files")


def _play_vars(prepared: Prepared) -> Iterator[Mapping[str, Any]]:
    """Every variable layer of the playbook (play vars, vars_files, task vars), for the secrets in it."""
    for play in prepared.playbook.plays:
        yield play.vars
        yield play.vars_files_vars
        yield from (task.vars for task in play.tasks)


def _export_paths(request: RunRequest) -> tuple[Path | None, Path | None]:
    """``--json`` and ``--csv`` made absolute and checked writable, so a typo fails before sampling."""
    json_path, csv_dir = request.json_path, request.csv_dir
    if json_path is not None:
        json_path = json_path if json_path.is_absolute() else _cwd(request) / json_path
        check_output_file(json_path, "--json")
    if csv_dir is not None:
        csv_dir = csv_dir if csv_dir.is_absolute() else _cwd(request) / csv_dir
        run_dir = None if request.out_dir is None else check_out_dir(request.out_dir, _cwd(request))
        if run_dir is not None and csv_dir.resolve().is_relative_to(run_dir.resolve()):
            # inside the run folder: made with it, not now (a folder made now would be taken for a
            # user's file when -o is claimed)
            if csv_dir.exists() and not csv_dir.is_dir():
                raise UsageError(
                    f"--csv {str(csv_dir)!r} exists and is not a directory", hint="give a folder"
                )
        else:
            check_output_dir(csv_dir, "--csv")
    return json_path, csv_dir


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
    from diag.run import distributed

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
    recording = prepared.recording
    if recording is not None and request.out_dir is not None:
        out_dir = request.out_dir if request.out_dir.is_absolute() else _cwd(request) / request.out_dir
        if out_dir.resolve() == recording.path.resolve():
            raise UsageError("-o names the run folder being replayed", hint="a replay writes a new one")
    if recording is not None and (request.scheduler is not None or request.workers is not None):
        raise UsageError("--replay runs on this controller", hint="drop --scheduler/--workers")
    json_path, csv_dir = _export_paths(request)  # checked before any host is contacted
    check_days(request.baseline_days)
    with _engines(request) as make_engine:
        return _run_prepared(request, prepared, make_engine, json_path, csv_dir)


def _run_prepared(
    request: RunRequest,
    prepared: Prepared,
    make_engine: Callable[..., Any],
    json_path: Path | None,
    csv_dir: Path | None,
) -> RunResult:
    recording = prepared.recording
    run_dir = make_run_dir(request.out_dir, _cwd(request), prepared.playbook.stem)
    redactor = Redactor(
        secret_values(prepared.extra_vars, *(h.vars for h, _ in prepared.plan), *_play_vars(prepared))
    )
    run = RunResult(
        playbook=str(prepared.playbook.path),
        inventory=list(request.inventories) if recording is None else list(recording.run.inventory),
        limit=request.limit,
        started=now_stamp(),
        argv=redact_argv(request.argv),
        extra_vars=redactor.data(redact_vars(prepared.extra_vars)),
        interval_s=_interval_s(prepared) if recording is None else recording.run.interval_s,
        version=diag.__version__,
        run_dir=str(run_dir),
        replay_of=None if recording is None else str(recording.path),
    )
    planned = {PLANNED_HOSTS: [host.name for host, _ in prepared.plan]}
    baselines = None if recording is not None else _baselines(request, prepared)
    if baselines is not None:
        run.history_note = baselines.note
        if baselines.warning:
            _emit(request, f"[WARNING]: {baselines.warning}")
    write_json(run_dir / "run.json", {**run.metadata(), **planned})
    options = EngineOptions(
        forks=request.forks if recording is None else min(request.forks, REPLAY_FORKS),
        tags=request.tags,
        skip_tags=request.skip_tags,
        connect=request.connect,
        host_deadline_s=_deadline_s(request, prepared),
        extra_vars=prepared.extra_vars,
        verbosity=request.verbosity,
        playbook_dir=str(prepared.playbook.path.parent),
    )
    hosts_file = HostsFile(run_dir / "hosts.jsonl", redactor, sync_each=recording is None)
    details = HostDetails(hosts_file.path)
    progress = Progress(len(prepared.plan), request.progress)
    vars_of = {host.name: host.vars for host, _ in prepared.plan}

    def host_done(result: HostResult, commands: Sequence[RecordedCommand]) -> None:
        if baselines is not None:
            result.baseline = baselines.for_result(result)
        details.add(result.host, hosts_file.write(result, commands, _host_vars_of(vars_of, result.host)))
        progress.host_done(result)
        # On disk now: the run keeps the host in brief (the engine holds this very object until the
        # end), and the reports read the rest back from its line (``RunResult.details``).
        result.drop_details()
        vars_of.get(result.host, {}).pop(REPLAY_VAR, None)  # a replayed host's answers, likewise

    def emit(line: str) -> None:
        if request.emit is not None:
            progress.clear()
            request.emit(redactor.text(line))
            progress.draw()

    engine = make_engine(options, emit=emit, on_host_done=host_done)
    live = [(host, plays) for host, plays in prepared.plan if host.name not in prepared.kept]
    # pandas and the report modules take ~0.4 s to import: do it while remote hosts sample. Not while
    # this machine samples itself: the import's own page faults would be in its counters.
    preload = None
    if any(str(host.vars.get("ansible_connection")) == "local" for host, _ in live):
        _preload_reports()
    else:
        preload = threading.Thread(target=_preload_reports, name="pfdiag-preload", daemon=True)
        preload.start()
    try:
        for host, _ in prepared.plan:
            if host.name in prepared.kept:  # a replay keeps what the recording says of these
                host_done(prepared.kept[host.name], recorded_answers(host.vars.get(REPLAY_VAR)) or ())
        with sigterm_as_interrupt(), collect_less():
            done = {r.host: r for r in engine.run(live)}
    finally:
        hosts_file.close()
        progress.clear()
    run.hosts = [prepared.kept.get(host.name) or done[host.name] for host, _ in prepared.plan]
    if redactor.values:  # whatever a task templated a secret into (a message, a reason) is masked too
        run.hosts = [
            HostResult.from_dict(redactor.data(h.to_dict()), raw=h.raw and redactor.text(h.raw))
            for h in run.hosts
        ]
    run.details = details
    run.interrupted = engine.interrupted
    if run.interval_s is None:
        run.interval_s = next((h.sample.interval_s for h in run.hosts if h.sample), None)
    run.finished = now_stamp()
    write_json(run_dir / "run.json", {**run.metadata(), **planned})
    if preload is not None:
        preload.join()
    from diag.report import write_reports

    write_reports(run, run_dir, json_path=json_path, csv_dir=csv_dir, plots=request.plots)
    return run


def _baselines(request: RunRequest, prepared: Prepared) -> Baselines:
    """Each host's usual rates, read once before any host runs (a replay is not compared: its rates
    are the recording's, the history's window is today's)."""
    path = history_path(request.history, _cwd(request))
    hosts = (host.name for host, _ in prepared.plan)
    return read_baselines(path, hosts, request.baseline_days, time.time())


def _host_vars_of(vars_of: Mapping[str, Mapping[str, Any]], name: str) -> dict[str, Any]:
    return redact_vars({k: v for k, v in vars_of.get(name, {}).items() if k != REPLAY_VAR})
