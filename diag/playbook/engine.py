"""The engine: runs a validated playbook's plays over hosts, in parallel, into one HostResult per host.

In: a ``Playbook``, the selected hosts with the plays each one is in, and ``EngineOptions`` (forks,
tags, connection options, host deadline, extra vars, verbosity). Out: ``HostResult`` per host, in host
order; ``on_host_done(result, commands)`` fires the moment a host finishes, with every command the
host answered (``RecordedCommand``, for the run folder and ``--replay``). Each task's module returns
an ``Outcome`` that the engine applies to the host's result and variables. Hosts run in a thread
pool (``forks``), tasks in order per host. A failed task stops its host (unless ``ignore_errors``);
an unreachable host gets its transport state. Neither ever stops another host. Ctrl-C sets
``stop``: scheduling stops, and each running host's connection is closed, so a long probe ends now
as ``interrupted``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from diag.findings import HostResult, HostState, Verdict
from diag.playbook import DEFAULT_FORKS
from diag.playbook.language.expressions import ExpressionError, Templar
from diag.playbook.language.model import Play, Task, task_selected
from diag.playbook.language.variables import lazy_vars, play_scope, task_scope
from diag.playbook.modules.base import HostContext, Outcome, TaskFailed, TaskSkipped
from diag.playbook.schedule import HostLike
from diag.playbook.taskplans import TaskPlans
from diag.shared.errors import DiagError, TransportError
from diag.shared.turns import taking_turns
from diag.transport import ConnectOptions, Deadline, Transport, open_transport
from diag.transport.recording import RecordedCommand, RecordingTransport

HostDone = Callable[[HostResult, Sequence[RecordedCommand]], None]
# After Ctrl-C/SIGTERM, how long hosts get to end once their connections are closed; a host stalled
# past that (a peer that never answers the close) is recorded as interrupted and not waited for.
DRAIN_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How to run: parallelism, tag filters, connection settings, ``-e`` vars and ``-v`` level.

    ``host_deadline_s`` bounds a whole host (connect + every task); the engine hands the transport the
    resulting ``Deadline``, so SSH's own stages stop there too.
    """

    forks: int = DEFAULT_FORKS
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    connect: ConnectOptions = field(default_factory=ConnectOptions)
    host_deadline_s: float = 60.0
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    verbosity: int = 0
    playbook_dir: str = "."


class _StopHost(Exception):
    """Ends the current host's run (task failed, unreachable, deadline, interrupt)."""


class _HostRun:
    """One host's run: its transport (opened on first use), set_fact layer and result."""

    def __init__(self, host: HostLike, engine: Engine) -> None:
        self.host = host
        self.engine = engine
        self.options = engine.options
        self.result = HostResult(host=host.name, group_names=[g for g in host.groups if g != "all"])
        self.facts: dict[str, Any] = {}
        self.transport: RecordingTransport | None = None
        self.started = time.monotonic()
        self.deadline = Deadline(self.started + self.options.host_deadline_s, self.options.host_deadline_s)
        self._play_scope: tuple[Play | None, dict[str, Any]] = (None, {})

    def play_scope(self, play: Play) -> dict[str, Any]:
        """The variables every task of ``play`` on this host starts from, built once per play."""
        if self._play_scope[0] is not play:
            magic = {
                "inventory_hostname": self.host.name,
                "group_names": list(self.result.group_names),
                "playbook_dir": self.options.playbook_dir,
            }
            self._play_scope = (play, play_scope(magic, play.vars, play.vars_files_vars, self.host.vars))
        return self._play_scope[1]

    def open_transport(self) -> Transport:
        if self.transport is None:
            inner = open_transport(self.host.name, dict(self.host.vars), self.options.connect, self.deadline)
            self.transport = RecordingTransport(inner)
        return self.transport

    def commands(self) -> tuple[RecordedCommand, ...]:
        return () if self.transport is None else tuple(self.transport.recorded)

    def run(self, plays: Sequence[Play]) -> HostResult:
        ran_any = False
        try:
            for play in plays:
                for task in play.tasks:
                    if not task_selected(task, self.options.tags, self.options.skip_tags):
                        continue
                    self.before_task(task)
                    ran_any = self.run_task(play, task) or ran_any
        except _StopHost:
            pass
        finally:
            if self.transport is not None:
                # closing a dead connection must not hide the host's result
                with contextlib.suppress(Exception):
                    self.transport.close()
        return self.finish(ran_any)

    def before_task(self, task: Task) -> None:
        if self.engine.stop.is_set():
            self.fail("interrupted", f"run interrupted before task {task.name!r}")
        if self.deadline.remaining_s() <= 0:
            limit = self.deadline.budget_s
            self.fail("timeout", f"host deadline of {limit:g} s passed before task {task.name!r}")

    def fail(self, state: str, reason: str) -> NoReturn:
        self.result.status = HostState.read(state)
        self.result.reason = reason
        raise _StopHost

    def finish(self, ran_any: bool) -> HostResult:
        result = self.result
        if result.status == "ok" and not ran_any:
            result.status, result.reason = "skipped", "no task ran (all skipped by tags or when)"
        if result.status == "ok" and result.verdict is None:
            result.verdict = Verdict("not-evaluable", "info", "no verdict task matched")
        result.elapsed_s = time.monotonic() - self.started
        return result

    def run_task(self, play: Play, task: Task) -> bool:
        """Run one task; return whether it counted as run (ok, failed or ignored, not skipped)."""
        variables = task_scope(
            base=self.play_scope(play),
            task_vars=task.vars,
            host_facts=self.facts,
            extra_vars=self.engine.extra_vars,
        )
        ctx = HostContext(
            host=self.host.name,
            task=task.name,
            where=task.where,
            verdict=self.result.verdict,
            variables=variables,
            templar=self.engine.templar,
            options=self.options.connect,
            open_transport=self.open_transport,
            deadline=self.deadline.at,
            verbosity=self.options.verbosity,
            emit=self.engine.emit,
        )
        stats = self.result.task_stats
        try:
            outcome = self.execute(task, ctx)
        except TaskSkipped as skip:
            stats["skipped"] += 1
            self.register(
                task, {"skipped": True, "skip_reason": skip.reason, "failed": False, "changed": False}
            )
            self.report("skipping", task, skip.reason)
            return False
        except TransportError as exc:
            stats["failed"] += 1
            if self.engine.stop.is_set():  # the interrupt closed the connection under the task
                self.fail("interrupted", f"run interrupted during task {task.name!r}")
            self.report(exc.state, task, exc.render())
            self.fail(exc.state, exc.render())
        except (TaskFailed, ExpressionError, DiagError) as exc:
            message = _failure_message(task, exc)
            payload = exc.result if isinstance(exc, TaskFailed) else {}
            if isinstance(exc, TaskFailed) and exc.raw is not None:
                self.result.raw = exc.raw
            self.register(task, {**payload, "failed": True, "msg": message})
            if task.ignore_errors:
                stats["ignored"] += 1
                self.report("failed (ignored)", task, message)
                return True
            stats["failed"] += 1
            self.report("failed", task, message)
            self.fail("failed", message)
        except Exception as exc:  # a bug in a module: the host fails, the fleet goes on
            message = f"{task.where}: task {task.name!r}: internal error in module {task.module!r}: {exc!r}"
            stats["failed"] += 1
            self.report("failed", task, message)
            if self.verbose(3):  # a line each: the CLI shows every -v line as one escaped line
                for line in traceback.format_exc().splitlines():
                    self.engine.emit(line)
            self.fail("failed", message + " (please report this at the pfdiag issue tracker)")
        stats["ok"] += 1
        self.apply(task, outcome)
        self.report("ok", task, outcome.display)
        return True

    def apply(self, task: Task, outcome: Outcome) -> None:
        """The one place a task's outcome changes the host: its result, its set_fact layer, register."""
        result = self.result
        result.findings.extend(outcome.findings)
        result.remediation.extend(outcome.remediation)
        if outcome.verdict is not None:
            result.verdict = outcome.verdict
        if outcome.host_facts is not None:
            result.facts = outcome.host_facts
        if outcome.measurement is not None:
            result.sample = outcome.measurement.sample
            result.raw = outcome.measurement.raw
        result.profiles.extend(outcome.profiles)
        self.facts.update(outcome.facts)
        self.register(task, dict(outcome.registered))

    def execute(self, task: Task, ctx: HostContext) -> Outcome:
        for condition in task.when:
            if not ctx.evaluate(condition):
                raise TaskSkipped(f"condition is false: {condition}")
        plan = self.engine.task_plans.of(task)
        early = plan.module.skip_early(plan.literals, ctx)
        if early is not None:  # before rendering what would not be used
            raise TaskSkipped(early)
        return plan.module.run(plan.args_for(ctx), ctx)

    def register(self, task: Task, value: dict[str, Any]) -> None:
        if task.register:
            self.facts[task.register] = value

    def verbose(self, level: int) -> bool:
        return self.options.verbosity >= level

    def report(self, state: str, task: Task, detail: str | None) -> None:
        if not self.verbose(1):
            return
        line = f"{state}: [{self.host.name}] {task.name}"
        self.engine.emit(f"{line} => {detail}" if detail else line)


def _failure_message(task: Task, exc: Exception) -> str:
    if isinstance(exc, ExpressionError):
        detail = f"{exc.detail} in expression {exc.expression!r}"
    elif isinstance(exc, DiagError):
        detail = exc.render()
    else:
        detail = str(exc)
    return f"{task.where}: task {task.name!r}: {detail}"


class Engine:
    """Runs hosts in a thread pool; ``stop`` is the interrupt flag, ``emit`` prints ``-v`` lines."""

    def __init__(
        self,
        options: EngineOptions,
        *,
        emit: Callable[[str], None] | None = None,
        on_host_done: HostDone | None = None,
    ) -> None:
        self.options = options
        self.templar = Templar()
        self.task_plans = TaskPlans()  # each task's module and literal arguments, once per run
        self.extra_vars = lazy_vars(options.extra_vars)  # wrapped once, read by every task of every host
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._emit = emit
        self._on_host_done = on_host_done
        self.interrupted = False
        self._running: set[_HostRun] = set()
        self._running_lock = threading.Lock()
        self._abandoned: dict[str, HostResult] = {}

    def emit(self, line: str) -> None:
        if self._emit is not None:
            with self._lock:
                self._emit(line)

    def run_host(self, host: HostLike, plays: Sequence[Play]) -> HostResult:
        host_run = _HostRun(host, self)
        with self._running_lock:
            self._running.add(host_run)
        try:
            result = host_run.run(plays)
        finally:
            with self._running_lock:
                self._running.discard(host_run)
        with self._lock:
            if result.host in self._abandoned:  # a second Ctrl-C already recorded it as interrupted
                return self._abandoned[result.host]
            if self._on_host_done is not None:
                self._on_host_done(result, host_run.commands())
        return result

    def run(self, schedule: Iterable[tuple[HostLike, Sequence[Play]]]) -> list[HostResult]:
        """Run every (host, plays) pair, in host order.

        Ctrl-C (``KeyboardInterrupt`` in this thread) sets ``stop`` and ``interrupted``; hosts finish their
        current task, hosts not started get status ``skipped``, and the results are returned as usual.
        """
        pairs = list(schedule)
        results: dict[int, HostResult] = {}
        forks = max(1, self.options.forks)
        pool = ThreadPoolExecutor(max_workers=forks, thread_name_prefix="pfdiag-host")
        # The hosts in flight (a future each, ~0.5 KB with its condition): a host is submitted when a
        # fork is free and its future dropped once its result is in, so 10,000 hosts hold ``forks``.
        futures: dict[Future[HostResult], int] = {}
        # Hosts report in through a queue: ``wait(pending, FIRST_COMPLETED)`` visits every pending
        # future per completion, O(hosts^2) lock round trips under the GIL (1,000 hosts: ~500,000).
        finished: queue.SimpleQueue[Future[HostResult]] = queue.SimpleQueue()
        waiting = iter(enumerate(pairs))

        def start_next() -> None:
            for index, (host, plays) in waiting:
                future = pool.submit(self._guarded, host, plays)
                futures[future] = index
                future.add_done_callback(finished.put)
                return

        try:
            for _ in range(forks):
                start_next()
            while futures:
                future = _next(finished)
                if not future.cancelled():
                    results[futures[future]] = future.result()
                del futures[future]  # after its result is in: Ctrl-C in between finds it in ``futures``
                if not self.stop.is_set():
                    start_next()
        except KeyboardInterrupt:
            self.stop.set()
            self.interrupted = True
            pool.shutdown(wait=False, cancel_futures=True)
            self._drain(futures, results)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return [
            results.get(i) or self._abandoned.get(host.name) or _not_started(host)
            for i, (host, _) in enumerate(pairs)
        ]

    def _guarded(self, host: HostLike, plays: Sequence[Play]) -> HostResult:
        if self.stop.is_set():
            return _not_started(host)
        with taking_turns():  # between its waits on the SSH loop, a host takes turns with the others
            return self.run_host(host, plays)

    def _drain(self, futures: Mapping[Future[HostResult], int], results: dict[int, HostResult]) -> None:
        """After Ctrl-C: close running hosts' connections (again and again: a host may be mid-connect)
        and collect them as they end; a second Ctrl-C stops waiting."""
        pending = {f for f in futures if not f.cancelled()}
        give_up = time.monotonic() + DRAIN_GRACE_S
        try:
            while pending:
                self._close_running()
                _, pending = wait(pending, timeout=0.5)
                if pending and time.monotonic() > give_up:  # a host that ignores the close
                    raise KeyboardInterrupt
            for future, index in futures.items():
                if not future.cancelled():
                    results[index] = future.result()
        except KeyboardInterrupt:
            self._abandon_running()

    def _abandon_running(self) -> None:
        """A second Ctrl-C: hosts still running are recorded now as ``interrupted`` (with what they had
        measured), so hosts.jsonl says what happened to them; their threads' late results are dropped."""
        with self._running_lock:
            running = list(self._running)
        for host_run in running:
            result = replace(
                host_run.result,
                status="interrupted",
                reason="run interrupted while this host was running (a second Ctrl-C did not wait for it)",
                elapsed_s=time.monotonic() - host_run.started,
            )
            with self._lock:
                if result.host in self._abandoned:
                    continue
                self._abandoned[result.host] = result
                if self._on_host_done is not None:
                    self._on_host_done(result, host_run.commands())

    def interrupt(self) -> None:
        """Ctrl-C from another thread (a sharded run's stop): stop scheduling, close running hosts."""
        self.stop.set()
        self._close_running()

    def _close_running(self) -> None:
        with self._running_lock:
            transports = [r.transport for r in self._running if r.transport is not None]
        for transport in transports:
            with contextlib.suppress(Exception):  # closing from this thread races the host's own close
                transport.close()


def _next(finished: queue.SimpleQueue[Future[HostResult]]) -> Future[HostResult]:
    """The next finished host; waits in short steps so that Ctrl-C reaches this thread at once."""
    while True:
        try:
            return finished.get(timeout=0.2)
        except queue.Empty:
            continue


def _not_started(host: HostLike) -> HostResult:
    return HostResult(
        host=host.name,
        status="skipped",
        reason="run interrupted before this host started",
        group_names=[g for g in host.groups if g != "all"],
    )
