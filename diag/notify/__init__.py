"""Notifications of an audit: what is new, resolved or due again, to a command and/or a webhook.

In: an audit's ``Diff`` as one target should hear it (``diag.history.told.for_target``: the audit calls
``notify`` once per target) and when each persisting problem was last told. Out: one JSON payload,
sent once per audit when something is new or resolved (or a persisting problem is due again after
``renotify_after_s``): to ``--notify CMD`` (``sh -c CMD`` with the JSON on stdin, a timeout) and to
``--notify-url URL`` (HTTP POST). The payload is Alertmanager's webhook shape (version 4: ``status``,
``alerts`` with ``labels``/``annotations``/``startsAt``/``endsAt``/``fingerprint``, ``groupKey``...)
plus pfdiag's own keys ``new``, ``resolved``, ``repeated`` (items: host, code, comm, severity,
summary, first_seen, streak) and ``audit``. A failing notifier is an outcome, never an exception.
``send_command``/``send_url`` (``diag.notify.delivery``, bounded by one deadline each) deliver any one payload
(``pfdiag watch`` sends each alert through them).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from diag.notify.delivery import NOTIFY_TIMEOUT_S, send_command, send_url
from diag.shared.units import rfc3339, stamp_seconds

__all__ = [
    "NOTIFY_TIMEOUT_S",
    "NotifyOutcome",
    "build_payload",
    "due_again",
    "notify",
    "send_command",
    "send_url",
]
# The guide's alert loop drops a repeat of the same alert within 5 minutes; Alertmanager's
# repeat_interval defaults to 4 h. A scheduled audit runs every 15 min or so: 4 h, like Alertmanager.
DEFAULT_RENOTIFY_AFTER_S = 4 * 3600.0
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert


class Problem(Protocol):
    """What a notification says of one problem (the history's ``Problem`` is one; notify needs no more)."""

    @property
    def host(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def comm(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def first_seen(self) -> str | None: ...
    @property
    def streak(self) -> int: ...
    @property
    def last_notified(self) -> str | None: ...
    @property
    def key(self) -> tuple[str, str, str]: ...


class Diff(Protocol):
    """An audit's change as notify reads it: what is new, still open and resolved (the history's ``Diff``)."""

    @property
    def new(self) -> Sequence[Problem]: ...
    @property
    def persisting(self) -> Sequence[Problem]: ...
    @property
    def resolved(self) -> Sequence[Problem]: ...


@dataclass(frozen=True, slots=True)
class NotifyOutcome:
    """``status``: ``sent``, ``failed``, ``nothing`` (no change worth telling) or ``off`` (no notifier)."""

    status: str
    error: str | None = None
    told: tuple[tuple[str, str, str], ...] = ()  # problem keys delivered (new + repeated)
    payload: dict[str, Any] | None = None


def alert_time(stamp: str | None) -> str:
    """A stored stamp as Alertmanager's RFC 3339 time; none is Alertmanager's zero time, an unreadable
    one passes through as it is.

    >>> alert_time("2026-12-01T19:20:04+0000"), alert_time(None), alert_time("soon")
    ('2026-12-01T19:20:04+00:00', '0001-01-01T00:00:00Z', 'soon')
    """
    if not stamp:
        return ZERO_TIME
    return rfc3339(stamp) or stamp


def _age_s(stamp: str | None, now: float) -> float | None:
    told = stamp_seconds(stamp)
    return None if told is None else now - told


def due_again(diff: Diff, renotify_after_s: float, now: float | None = None) -> list[Problem]:
    """Persisting problems to tell again: never delivered, or last told ``renotify_after_s`` ago."""
    now = time.time() if now is None else now
    due = []
    for problem in diff.persisting:
        age = _age_s(problem.last_notified, now)
        if age is None or age >= renotify_after_s:
            due.append(problem)
    return due


def _item(problem: Problem) -> dict[str, Any]:
    return {
        "host": problem.host,
        "code": problem.code,
        "comm": problem.comm,
        "kind": problem.kind,
        "severity": problem.severity,
        "summary": problem.summary,
        "first_seen": problem.first_seen,
        "streak": problem.streak,
    }


def _alert(problem: Problem, status: str, ended: str) -> dict[str, Any]:
    labels = {"alertname": f"pfdiag:{problem.code}", "instance": problem.host, "severity": problem.severity}
    if problem.comm:
        labels["comm"] = problem.comm
    fingerprint = hashlib.sha256("\0".join(problem.key).encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": problem.summary},
        "startsAt": alert_time(problem.first_seen),
        "endsAt": ended if status == "resolved" else ZERO_TIME,
        "generatorURL": "",
        "fingerprint": fingerprint,
    }


def build_payload(diff: Diff, repeated: Sequence[Problem], audit: dict[str, Any]) -> dict[str, Any]:
    """The JSON both notifiers get (Alertmanager webhook v4 shape + ``new``/``resolved``/``repeated``)."""
    ended = alert_time(audit.get("finished"))
    firing = [_alert(p, "firing", ended) for p in [*diff.new, *repeated]]
    resolved = [_alert(p, "resolved", ended) for p in diff.resolved]
    return {
        "version": "4",
        "receiver": "pfdiag",
        "status": "firing" if firing else "resolved",
        "groupKey": f"pfdiag:{audit.get('scope', '')}",
        "truncatedAlerts": 0,
        "groupLabels": {"alertname": "pfdiag"},
        "commonLabels": {"job": "pfdiag"},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": firing + resolved,
        "new": [_item(p) for p in diff.new],
        "resolved": [_item(p) for p in diff.resolved],
        "repeated": [_item(p) for p in repeated],
        "audit": audit,
    }


def notify(
    diff: Diff,
    audit: dict[str, Any],
    *,
    command: str | None,
    url: str | None,
    renotify_after_s: float = DEFAULT_RENOTIFY_AFTER_S,
    timeout_s: float = NOTIFY_TIMEOUT_S,
) -> NotifyOutcome:
    """Tell each notifier once, when there is something to tell; never raises."""
    if command is None and url is None:
        return NotifyOutcome("off")
    repeated = due_again(diff, renotify_after_s)
    if not (diff.new or diff.resolved or repeated):
        return NotifyOutcome("nothing")
    payload = build_payload(diff, repeated, audit)
    errors = []
    if command is not None:
        errors.append(send_command(command, payload, timeout_s))
    if url is not None:
        errors.append(send_url(url, payload, timeout_s))
    failed = [e for e in errors if e]
    told = tuple(p.key for p in [*diff.new, *repeated])
    if failed:
        # some notifier got it: the problems count as told only when all did (so none is lost)
        return NotifyOutcome("failed", "; ".join(failed), (), payload)
    return NotifyOutcome("sent", None, told, payload)
