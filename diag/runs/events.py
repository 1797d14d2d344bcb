"""A watch's events as typed records, and their codec: one ``events.jsonl`` line <-> one record.

In: the records the watch's rules, runner and service make (``SampleEvent``, ``AlertEvent``,
``ResolvedEvent``, ``ExitEvent``, ``HostStateEvent``, ``BaselineEvent``), or a line's JSON object read
back. Out: the line's plain data (``event_data``, keys in the order a watch has always written them,
through ``records.to_data``), and the record rebuilt from it (``decode_event``, through
``records.from_data``). The records live here, with the run folder's owner, because both the watch
(which writes them) and the report (which reads them, and comes before the watch) need them.

A saved line is re-emitted as it was read (``pfdiag report --format json``): a key this version does
not know is kept in ``extra``, an optional key a line lacks (``vs_usual``, an older watch's process row
without ``total_*``) stays absent, and an event type this version does not know is an ``OtherEvent``
holding its data untouched.

>>> line = ('{"type": "exit", "host": "h01", "ts": "2026-12-01T19:40:03.000Z", "pid": 7, '
...         '"comm": "java", "starttime": 123, "note": "hand-added"}')
>>> event = decode_event(json.loads(line))
>>> event.pid, event.starttime, event.extra
(7, 123, {'note': 'hand-added'})
>>> encode_event(event) == line + "\\n"
True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from diag.shared.records import from_data, to_data

# a field that a line may lack (added by a later pfdiag, or said only sometimes): absent when None
OPTIONAL = {"optional": True}


@dataclass(frozen=True, slots=True)
class ProcessRates:
    """A process's row in a sample: its fault rates over one tick, named as the probe's ``Process``.

    ``total_*`` is own + children; a watch saved by an older pfdiag has no ``total_*``, and there
    ``minflt_per_s`` / ``majflt_per_s`` meant own + children (``total_minor`` reads either).
    """

    pid: int
    starttime: int | None = field(default=None, metadata=OPTIONAL)
    comm: str | None = None
    minflt_per_s: float = 0.0
    majflt_per_s: float = 0.0
    children_minflt_per_s: float | None = field(default=None, metadata=OPTIONAL)
    children_majflt_per_s: float | None = field(default=None, metadata=OPTIONAL)
    total_minflt_per_s: float | None = field(default=None, metadata=OPTIONAL)
    total_majflt_per_s: float | None = field(default=None, metadata=OPTIONAL)
    new: bool | None = field(default=None, metadata=OPTIONAL)
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def total_minor(self) -> float:
        """Own + children minor faults a second, in a watch of this version or an older one."""
        return self.minflt_per_s if self.total_minflt_per_s is None else self.total_minflt_per_s


@dataclass(frozen=True, slots=True)
class SampleEvent:
    """One host's tick: its host-wide rates and its busiest watched processes."""

    type: ClassVar[str] = "sample"
    host: str
    ts: str
    interval_s: float | None = None
    rates: Mapping[str, float | None] = field(default_factory=dict)
    processes: tuple[ProcessRates, ...] = ()
    bytes: int | None = field(default=None, metadata=OPTIONAL)
    vs_usual: str | None = field(default=None, metadata=OPTIONAL)
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A rule that held ``for_ticks`` ticks in a row (``pid`` None: a host-wide rule)."""

    type: ClassVar[str] = "alert"
    host: str
    ts: str
    pid: int | None
    comm: str | None
    rule: str
    value: float | None
    threshold: float | None
    for_ticks: int | None = field(default=None, metadata=OPTIONAL)
    severity: str | None = field(default=None, metadata=OPTIONAL)  # a ``findings.Severity`` name
    vs_usual: str | None = field(default=None, metadata=OPTIONAL)
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ResolvedEvent:
    """An alerted rule that stopped holding (``reason``: below threshold, or its process exited)."""

    type: ClassVar[str] = "resolved"
    host: str
    ts: str
    pid: int | None
    comm: str | None
    rule: str
    value: float | None
    threshold: float | None
    for_ticks: int | None = field(default=None, metadata=OPTIONAL)
    reason: str | None = field(default=None, metadata=OPTIONAL)
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ExitEvent:
    """A followed (``--pid``) process that is gone."""

    type: ClassVar[str] = "exit"
    host: str
    ts: str
    pid: int
    comm: str | None = None
    starttime: int | None = field(default=None, metadata=OPTIONAL)
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class HostStateEvent:
    """A host's connection changed: ``ok`` (connected, or ``reconnected``) or why it is not."""

    type: ClassVar[str] = "host-state"
    host: str
    ts: str
    state: str
    reason: str | None = None
    reconnected: bool | None = field(default=None, metadata=OPTIONAL)
    where: str | None = field(default=None, metadata=OPTIONAL)
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BaselineEvent:
    """A host's usual rates, said at the start (``host`` None: no host has a readable history)."""

    type: ClassVar[str] = "baseline"
    host: str | None
    ts: str
    summary: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """An event of a type this version does not know (a newer pfdiag wrote it): kept as it was."""

    type: str
    host: str | None
    data: Mapping[str, Any]


WatchEvent = (
    SampleEvent | AlertEvent | ResolvedEvent | ExitEvent | HostStateEvent | BaselineEvent | OtherEvent
)
KINDS: dict[str, type[Any]] = {
    cls.type: cls
    for cls in (SampleEvent, AlertEvent, ResolvedEvent, ExitEvent, HostStateEvent, BaselineEvent)
}


def _plain(record: Any, head: Mapping[str, Any]) -> dict[str, Any]:
    """A record's data: ``head``, then its fields in order (optional ones left out when None), then
    ``extra``; a record read from a line keeps that line's key order (``keys``)."""
    data = to_data(record)
    for f in dataclasses.fields(record):
        if f.metadata.get("optional") and data[f.name] is None:
            del data[f.name]
    extra, keys = data.pop("extra"), data.pop("keys")
    data = {**head, **data, **extra}
    return {**{k: data[k] for k in keys if k in data}, **data}


def event_data(event: WatchEvent) -> dict[str, Any]:
    """The plain data of one ``events.jsonl`` line (``type`` first), as ``--notify`` gets it too."""
    if isinstance(event, OtherEvent):
        return dict(event.data)
    data = _plain(event, {"type": event.type})
    if isinstance(event, SampleEvent):
        data["processes"] = [_plain(p, {}) for p in event.processes]
    return data


def encode_event(event: WatchEvent) -> str:
    """One ``events.jsonl`` line, newline included."""
    return json.dumps(event_data(event), default=str) + "\n"


def _decode(cls: type[Any], data: Mapping[str, Any]) -> Any:
    """The record of ``data``, which keeps what ``from_data`` would change: unknown keys (``extra``),
    the key order, and a whole number where a float is typed (``"value": 5`` stays ``5``)."""
    names = {f.name for f in dataclasses.fields(cls)}
    extra = {k: v for k, v in data.items() if k not in names and k != "type"}
    whole = {k: v for k, v in data.items() if k in names and type(v) is int}
    return dataclasses.replace(from_data(cls, data), extra=extra, keys=tuple(data), **whole)


def decode_event(data: Mapping[str, Any]) -> WatchEvent:
    """The record of one line's JSON object (its shape checked first: ``watch/saved.event_problem``)."""
    cls = KINDS.get(str(data.get("type")))
    if cls is None:
        host = data.get("host")
        return OtherEvent(str(data.get("type")), host if isinstance(host, str) else None, dict(data))
    event = _decode(cls, data)
    if isinstance(event, SampleEvent):
        rows = tuple(_decode(ProcessRates, p) for p in data.get("processes") or ())
        rates = data.get("rates")
        event = dataclasses.replace(
            event, processes=rows, rates=dict(rates) if isinstance(rates, Mapping) else {}
        )
    return event
