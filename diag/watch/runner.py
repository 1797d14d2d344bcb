"""Run a watch: a thread per host ticking on its own clock, one consumer turning ticks into events.

In: the hosts (name + vars), ``ConnectOptions`` and ``WatchOptions``. Out: events handed to
``on_events`` in batches as they happen (``sample``, ``alert``, ``resolved``, ``exit``, ``host-state``),
and a ``WatchSummary``. Each host thread logs in once, then exchanges one line per tick; a lost
connection is reported (``host-state``) and retried with backoff (1 s doubling to 30 s), so one slow
or dead host never delays another's ticks. The consumer (the caller's thread) evaluates the rules.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from diag.findings import HostState
from diag.shared.errors import DiagError, ParseError, TransportError
from diag.shared.units import utc_stamp_ms
from diag.transport import ConnectOptions, Stream
from diag.watch.rules import AlertTracker, exits
from diag.watch.stream import open_stream
from diag.watch.ticker import ProcessTable, TickRates, parse_tick

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
TOP_N = 10  # processes per host in a sample event (plus followed and alerting ones)
MISSING_PIDS = "followed processes not found"  # ended_by when no --pid runs at the first tick


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """What ``pfdiag watch`` was asked: tick period, end (``count`` ticks or ``duration_s``), rules."""

    every_s: float
    count: int | None = None
    duration_s: float | None = None
    top_n: int = TOP_N

    def end_tick(self) -> int | None:
        """The last tick's index (tick 0 is the baseline), None to run until interrupted."""
        if self.count is not None:
            return self.count
        if self.duration_s is not None:
            return max(1, int(self.duration_s / self.every_s + 1e-9))
        return None


@dataclass(slots=True)
class HostView:
    """What the live table shows for one host: its state and its last tick."""

    state: str = "connecting"
    reason: str | None = None
    where: str = ""
    last: TickRates | None = None
    ticks: int = 0
    logins: int = 0


@dataclass(slots=True)
class WatchSummary:
    hosts: dict[str, HostView] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    ended_by: str = ""
    missing_pids: tuple[int, ...] = ()  # --pid values no host ran at its first tick
    error: DiagError | None = None  # what stopped the watch (a sink that cannot be written)


class _HostThread(threading.Thread):
    """Ticks one host at start + k * every; sends ("tick"|"state", ...) items to the consumer."""

    def __init__(
        self,
        name: str,
        hostvars: dict[str, object],
        connect: ConnectOptions,
        options: WatchOptions,
        start: float,
        out: queue.Queue[tuple[Any, ...]],
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"watch-{name}", daemon=True)
        self.host, self.hostvars, self.connect = name, hostvars, connect
        self.options, self.start_at, self.out, self.stop = options, start, out, stop
        self.timeout_s = max(10.0, 3 * options.every_s)

    def _wait_until(self, when: float) -> bool:
        """False when the watch was stopped meanwhile."""
        return not self.stop.wait(max(0.0, when - time.monotonic()))

    def _next_index(self) -> int:
        return int((time.monotonic() - self.start_at) / self.options.every_s) + 1

    def run(self) -> None:
        end = self.options.end_tick()
        stream: Stream | None = None
        table = ProcessTable()
        backoff = BACKOFF_FIRST_S
        index, seq = 0, 0
        try:
            while not self.stop.is_set() and (end is None or index <= end):
                if stream is None:
                    try:
                        stream, where = open_stream(self.host, self.hostvars, self.connect)
                    except TransportError as exc:
                        self.out.put(("state", self.host, exc.state, exc.render(), ""))
                        if not self._wait_until(time.monotonic() + backoff):
                            return
                        backoff = min(backoff * 2, BACKOFF_MAX_S)
                        index = max(index, self._next_index() - 1)
                        continue
                    backoff = BACKOFF_FIRST_S
                    table = ProcessTable()
                    self.out.put(("state", self.host, "ok", None, where))
                    # the baseline of a new login is taken at once, rates come at the next tick
                    index = max(index, self._next_index() - 1)
                elif not self._wait_until(self.start_at + index * self.options.every_s):
                    return
                seq += 1
                before = stream.bytes_in + stream.bytes_out
                try:
                    text = stream.exchange(f"{seq}\n".encode(), f"E {seq}\n".encode(), self.timeout_s)
                    tick = parse_tick(text.decode("utf-8", "replace"))
                except (TransportError, ParseError) as exc:
                    state = exc.state if isinstance(exc, TransportError) else "failed"
                    self.out.put(("state", self.host, state, f"connection lost: {exc.render()}", ""))
                    stream.close()
                    stream = None
                    continue
                rates = table.apply(tick)
                if rates is None:  # a baseline: which pids run, so a --pid that does not can be said
                    self.out.put(("base", self.host, frozenset(table.procs)))
                else:
                    self.out.put(
                        (
                            "tick",
                            self.host,
                            time.monotonic(),
                            rates,
                            stream.bytes_in + stream.bytes_out - before,
                        )
                    )
                index = max(index + 1, self._next_index())
        finally:
            if stream is not None:
                stream.close()
            self.out.put(("done", self.host))


def _sample_event(
    host: str, ts: str, rates: TickRates, tracker: AlertTracker, keep: set[int], top_n: int, nbytes: int
) -> dict[str, Any]:
    """The busiest ``top_n`` watched processes (``--pid``/``--match``), plus followed and alerting ones."""
    watched = [p for p in rates.processes if tracker.selection.wants(p.pid, p.comm)]
    procs = [p for i, p in enumerate(watched) if i < top_n or p.pid in keep]
    return {
        "type": "sample",
        "host": host,
        "ts": ts,
        "interval_s": round(rates.interval_s, 3),
        "rates": {k: None if v is None else round(v, 1) for k, v in rates.rates.items()},
        "processes": [p.to_dict() for p in procs],
        "bytes": nbytes,
    }


def run_watch(
    hosts: Sequence[tuple[str, Mapping[str, object]]],
    connect: ConnectOptions,
    options: WatchOptions,
    tracker: AlertTracker,
    on_events: Callable[[list[dict[str, Any]]], None],
    on_refresh: Callable[[WatchSummary, AlertTracker], None] = lambda s, t: None,
) -> WatchSummary:
    """Watch ``hosts`` until the end tick, or Ctrl-C (the summary then says ``interrupted``)."""
    summary = WatchSummary(hosts={name: HostView() for name, _ in hosts})
    out: queue.Queue[tuple[Any, ...]] = queue.Queue()
    stop = threading.Event()
    start = time.monotonic()
    threads = [_HostThread(n, dict(v), connect, options, start, out, stop) for n, v in hosts]
    for thread in threads:
        thread.start()
    followed = tracker.selection.pids
    seen_followed: set[tuple[str, int]] = set()
    baselines: dict[str, frozenset[int]] | None = {} if followed else None
    running = len(threads)
    end = options.end_tick()
    # a host stuck in a connect must not hold the end of the watch past its last tick
    hard_end = None if end is None else start + end * options.every_s + max(5.0, options.every_s)
    try:
        while running:
            timeout = 0.5 if hard_end is None else max(0.0, min(0.5, hard_end - time.monotonic()))
            try:
                item = out.get(timeout=timeout)
            except queue.Empty:
                if hard_end is not None and time.monotonic() >= hard_end:
                    summary.ended_by = "count" if options.count is not None else "duration"
                    break
                on_refresh(summary, tracker)
                continue
            events = _handle(item, summary, tracker, followed, seen_followed, options.top_n)
            if item[0] == "done":
                running -= 1
            if baselines is not None:
                if item[0] == "base":
                    baselines.setdefault(item[1], item[2])
                missing = _never_running(summary, followed, baselines)
                if missing is not None:  # decided once, at the first tick of every host reached
                    baselines, summary.missing_pids = None, missing
                    if set(missing) == followed and not tracker.selection.matches:
                        summary.ended_by = MISSING_PIDS
                        break
            if events:
                for event in events:
                    summary.counts[event["type"]] = summary.counts.get(event["type"], 0) + 1
                on_events(events)
            if (
                followed
                and tracker.selection.matches == ()
                and _all_followed_gone(summary, followed, seen_followed)
            ):
                summary.ended_by = "followed processes exited"
                break
            if out.empty():
                on_refresh(summary, tracker)
        else:
            summary.ended_by = "count" if options.count is not None else "duration"
    except KeyboardInterrupt:
        summary.interrupted = True
    except DiagError as exc:  # from on_events: the run folder or --jsonl cannot be written
        summary.error, summary.ended_by = exc, "error"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2.0)
    return summary


def _never_running(
    summary: WatchSummary, followed: frozenset[int], baselines: dict[str, frozenset[int]]
) -> tuple[int, ...] | None:
    """The followed pids no host ran at its first tick; None until every host reached has had one."""
    if not baselines or any(
        h not in baselines and v.state in ("ok", "connecting") for h, v in summary.hosts.items()
    ):
        return None
    running = frozenset().union(*baselines.values())
    return tuple(sorted(followed - running))


def _all_followed_gone(summary: WatchSummary, followed: frozenset[int], seen: set[tuple[str, int]]) -> bool:
    """Every host has ticked at least once and none still runs a followed pid."""
    views = summary.hosts.values()
    if not all(v.last is not None or v.state != "ok" for v in views) or not any(v.last for v in views):
        return False
    return not any(v.last is not None and followed & v.last.alive for v in views)


def _handle(
    item: tuple[Any, ...],
    summary: WatchSummary,
    tracker: AlertTracker,
    followed: frozenset[int],
    seen_followed: set[tuple[str, int]],
    top_n: int,
) -> list[dict[str, Any]]:
    kind, host = item[0], item[1]
    view = summary.hosts[host]
    if kind in ("done", "base"):
        return []
    ts = utc_stamp_ms()
    if kind == "state":
        _, _, state, reason, where = item
        previous = view.state
        if state == HostState.ok:
            view.logins += 1
            view.where = where or view.where
        else:
            tracker.host_lost(host)
        if state == previous and reason == view.reason:
            return []  # a retry that failed the same way again
        view.state, view.reason = state, reason
        event = {"type": "host-state", "host": host, "ts": ts, "state": state, "reason": reason}
        if state == HostState.ok:
            event["reconnected"] = view.logins > 1
            event["where"] = view.where
        return [event]
    _, _, mono, rates, nbytes = item
    view.last, view.ticks = rates, view.ticks + 1
    for pid in followed & rates.alive:
        seen_followed.add((host, pid))
    alerts = tracker.evaluate(host, mono, ts, rates)
    keep = set(followed) | {e["pid"] for e in alerts if e["pid"] is not None}
    keep |= {pid for (pid, _c), (label, _r) in tracker.labels(host).items() if pid is not None and label}
    events = [_sample_event(host, ts, rates, tracker, keep, top_n, nbytes), *alerts]
    events += exits(host, ts, rates.exited, followed)
    return events
