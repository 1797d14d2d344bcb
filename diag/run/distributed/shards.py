"""Running a plan's hosts as shards on a Dask cluster, each host's result sent back as it ends.

In: a validated plan (hosts with their plays), the ``EngineOptions`` of the run, and a connected
``Cluster``. Out: what ``Engine.run`` returns, one ``HostResult`` per host in host order, with
``on_host_done`` fired on the client once per host the moment its result arrives. Hosts are split into
shards; each shard runs pfdiag's own ``Engine`` on a worker (same transports, timeouts, host-key checks)
and sends every host as it finishes through a ``distributed.Queue`` named after the run. A worker that
dies mid-shard has its shard rescheduled by Dask; hosts already received are kept and their second
result is dropped. A lost cluster or Ctrl-C ends the run with what arrived; the rest are ``interrupted``.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

import distributed
from distributed import Event, Future, Queue, Variable

from diag.findings import HostResult
from diag.playbook.engine import Engine, EngineOptions, HostDone
from diag.playbook.language.model import Play
from diag.playbook.schedule import HostLike
from diag.run.distributed.cluster import Cluster
from diag.runs.store import host_line, read_host_line
from diag.transport.recording import RecordedCommand

POLL_S = 0.5  # how long the client waits for a result before it checks the shards and the cluster
STOP_POLL_S = 0.5  # how often a shard asks whether the client has stopped the run
RERUN_WAIT_S = 10.0  # how long a rescheduled shard waits for the client's list of hosts already in


def shard_size(n_hosts: int, forks: int, slots: int) -> int:
    """Hosts per shard: the hosts spread over every worker thread at once, at most ``forks`` a shard.

    One shard per worker thread keeps the run to one wave of sampling intervals when it fits; ``-f``
    caps the hosts one shard (one engine) has open at a time, as it does on a single controller.

    >>> shard_size(1000, 200, 2)   # two workers, one thread each: 5 shards of 200, 2 at a time
    200
    >>> shard_size(100, 200, 4)
    25
    >>> shard_size(3, 200, 8)
    1
    """
    return max(1, min(forks, math.ceil(n_hosts / max(1, slots))))


def _already_in(run_id: str, index: int, results: Queue) -> set[str]:
    """Hosts of this shard the client already has, when Dask runs the shard again after a worker died.

    The first run marks the shard started; a rerun asks the client (through the results queue, which
    the client reads anyway) and gets the names back in a Variable. Without an answer in time it runs
    every host: the client keeps only the first result of each.
    """
    started = Variable(f"pfdiag-{run_id}-started-{index}")
    try:
        started.get(timeout=0)
    except TimeoutError:
        started.set(True)
        return set()
    results.put({"kind": "ask", "text": str(index)})
    try:
        return set(Variable(f"pfdiag-{run_id}-done-{index}").get(timeout=RERUN_WAIT_S))
    except TimeoutError:
        return set()


def run_shard(
    run_id: str, index: int, pairs: Sequence[tuple[HostLike, Sequence[Play]]], options: EngineOptions
) -> int:
    """A Dask task: run one shard with pfdiag's engine, sending each host to the run's queue as it ends.

    The engine runs in a thread; this task thread forwards its results (each host as its
    ``hosts.jsonl`` line, ``diag.runs.store.host_line``: it crosses the wire as it will be written)
    and watches the run's stop event. A rerun of the shard (its first worker died) skips the hosts
    the client already has. Returns hosts sent.
    """
    results: Queue = Queue(f"pfdiag-{run_id}")
    stop = Event(f"pfdiag-{run_id}-stop")
    done = _already_in(run_id, index, results)
    pairs = [(host, plays) for host, plays in pairs if host.name not in done]
    local: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()

    def host_done(result: HostResult, commands: Sequence[RecordedCommand]) -> None:
        local.put(("host", host_line(result, commands)))  # hosts.jsonl's line, vars added by the client

    engine = Engine(options, emit=lambda line: local.put(("emit", line)), on_host_done=host_done)
    thread = threading.Thread(target=engine.run, args=(pairs,), name=f"pfdiag-shard-{run_id}", daemon=True)
    thread.start()
    sent = 0
    checked = time.monotonic()
    while thread.is_alive() or not local.empty():
        if time.monotonic() - checked >= STOP_POLL_S:
            checked = time.monotonic()
            if thread.is_alive() and stop.is_set():
                engine.interrupt()
        try:
            kind, text = local.get(timeout=STOP_POLL_S)
        except queue.Empty:
            continue
        results.put({"kind": kind, "text": text})
        sent += kind == "host"
    return sent


class ShardedEngine:
    """``Engine``'s interface over a cluster: ``run(plan)`` returns per-host results, ``interrupted``."""

    def __init__(
        self,
        cluster: Cluster,
        options: EngineOptions,
        *,
        emit: Callable[[str], None] | None = None,
        on_host_done: HostDone | None = None,
    ) -> None:
        self.cluster = cluster
        self.options = options
        self.interrupted = False
        self._emit = emit
        self._on_host_done = on_host_done
        self.results: dict[str, HostResult] = {}
        self._run_id = ""
        self._shards: list[list[str]] = []

    def run(self, schedule: Iterable[tuple[HostLike, Sequence[Play]]]) -> list[HostResult]:
        """Run every (host, plays) pair on the cluster; results in host order, each host exactly once."""
        pairs = list(schedule)
        client = self.cluster.client
        size = shard_size(len(pairs), self.options.forks, self.cluster.slots)
        shards = [pairs[i : i + size] for i in range(0, len(pairs), size)]
        run_id = self._run_id = uuid.uuid4().hex
        self._shards = [[host.name for host, _ in shard] for shard in shards]
        results: Queue = Queue(f"pfdiag-{run_id}", client=client)
        stop = Event(f"pfdiag-{run_id}-stop", client=client)
        futures: list[Future] = [
            client.submit(run_shard, run_id, i, shard, self.options, key=f"pfdiag-{run_id}-{i}", pure=False)
            for i, shard in enumerate(shards)
        ]
        missing = "run interrupted before this host's result arrived from the cluster"
        lost = False
        try:
            while not all(f.done() for f in futures):
                self._receive(results, timeout_s=POLL_S)
            self._receive(results, timeout_s=None)
        except KeyboardInterrupt:
            self.interrupted = True
            with contextlib.suppress(Exception), contextlib.suppress(KeyboardInterrupt):
                stop.set()
                client.cancel(futures)
                self._receive(results, timeout_s=None)
        except (OSError, distributed.comm.CommClosedError) as exc:
            self.interrupted = lost = True
            missing = f"the Dask cluster was lost before this host's result arrived: {exc}"
        failed = self._shard_errors(futures, shards)
        if not lost:
            self._forget(run_id, len(shards), results)
        return [
            self.results.get(host.name) or failed.get(host.name) or _unfinished(host, missing)
            for host, _ in pairs
        ]

    def _forget(self, run_id: str, n_shards: int, results: Queue) -> None:
        """Drop the run's queue and variables from the scheduler (a long-lived cluster runs many runs)."""
        client = self.cluster.client
        for name in [f"{kind}-{index}" for index in range(n_shards) for kind in ("started", "done")]:
            with contextlib.suppress(Exception):
                Variable(f"pfdiag-{run_id}-{name}", client=client).delete()
        with contextlib.suppress(Exception):
            results.close()

    def _receive(self, results: Queue, *, timeout_s: float | None) -> None:
        """Take what the queue holds (waiting up to ``timeout_s`` for the first item; None: no wait)."""
        items: list[dict[str, str]] = []
        if timeout_s is not None:
            with contextlib.suppress(TimeoutError):
                items.append(results.get(timeout=timeout_s))
        items.extend(results.get(batch=True))
        for item in items:
            if item["kind"] == "emit":
                if self._emit is not None:
                    self._emit(item["text"])
                continue
            if item["kind"] == "ask":  # a rescheduled shard: tell it which of its hosts are in
                index = int(item["text"])
                have = [name for name in self._shards[index] if name in self.results]
                Variable(f"pfdiag-{self._run_id}-done-{index}", client=self.cluster.client).set(have)
                continue
            recorded = read_host_line(item["text"])
            result = recorded.result
            if result.host in self.results:  # a rescheduled shard ran it again: the first one counts
                continue
            self.results[result.host] = result
            if self._on_host_done is not None:
                self._on_host_done(result, recorded.commands)

    def _shard_errors(
        self, futures: Sequence[Future], shards: Sequence[Sequence[tuple[HostLike, Sequence[Play]]]]
    ) -> dict[str, HostResult]:
        """Hosts of a shard that raised (e.g. Dask gave up after workers kept dying) fail with why."""
        failed: dict[str, HostResult] = {}
        for index, (future, shard) in enumerate(zip(futures, shards, strict=True)):
            if future.status != "error":
                continue
            with contextlib.suppress(Exception):
                exc = future.exception(timeout=1)
                for host, _ in shard:
                    reason = f"shard {index} failed on the Dask cluster: {type(exc).__name__}: {exc}"
                    failed[host.name] = _unfinished(host, reason, status="failed")
        return failed


def _unfinished(host: HostLike, reason: str, status: str = "interrupted") -> HostResult:
    return HostResult(
        host=host.name, status=status, reason=reason, group_names=[g for g in host.groups if g != "all"]
    )
