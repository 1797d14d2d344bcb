"""The watch's alert rules: the triage's thresholds, ``--for K`` consecutive ticks, cooldown, resolved.

In: each host's ``TickRates`` and the thresholds (``playbooks/triage.yml`` vars, ``-e`` overrides).
A process's minor-fault rule holds as the triage's minor-storm does: over ``proc_minflt_per_s`` (the
guide's line) AND costing at least ``proc_minor_ms_per_s`` by the cost model (diag/probe/cost.py; the
ticker reads no CPU time, so at the guide's least cost, 1 us a fault). ``-e proc_minor_ms_per_s=0``
gives a watched service the guide's alert at 1,000 minor/s again.
Out: ``alert`` and ``resolved`` event dicts. A rule fires when it holds for ``for_ticks`` ticks in a
row; the same host + rule + process (pid and comm) does not alert again within ``cooldown_s`` (a
storm still going when its cooldown ends alerts again); ``resolved`` comes once, when an alerted rule
stops holding (or its process exits). Host-wide rules have no pid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from diag.findings import Severity
from diag.probe.cost import process_cost
from diag.watch.ticker import ProcCounters, ProcRate, TickRates

# (rule = the triage var holding its threshold, what it measures, severity)
PROCESS_RULES = (
    ("proc_minflt_per_s", "total_minflt_per_s", Severity.warning),
    ("proc_majflt_per_s", "total_majflt_per_s", Severity.warning),
)
HOST_RULES = (
    ("host_minflt_per_s", "minflt_per_s", Severity.warning),
    ("host_majflt_per_s", "majflt_per_s", Severity.warning),
    ("swapin_pages_per_s", "swapin_per_s", Severity.critical),
)
# rule -> the triage var of the cost it must also reach (diag/probe/cost.py)
COST_GATES = {"proc_minflt_per_s": "proc_minor_ms_per_s"}
THRESHOLD_VARS = (*(rule for rule, _m, _s in PROCESS_RULES + HOST_RULES), *COST_GATES.values())

Key = tuple[str, str, int | None, str | None]  # host, rule, pid, comm


@dataclass(slots=True)
class RuleState:
    """One host + rule + process: ticks in a row it held, whether it is alerting, when it last alerted."""

    holding: int = 0
    active: bool = False
    last_alert: float | None = None
    value: float = 0.0

    def label(self, for_ticks: int) -> str:
        if self.active:
            return "ALERT"
        if self.holding and self.last_alert is not None:
            return "suppressed"
        if self.holding:
            return f"pending {self.holding}/{for_ticks}"
        return ""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which processes the watch evaluates: every one, or the ``--pid`` ones plus ``--match`` comms."""

    pids: frozenset[int] = frozenset()
    matches: tuple[re.Pattern[str], ...] = ()

    @property
    def everything(self) -> bool:
        return not self.pids and not self.matches

    def wants(self, pid: int, comm: str) -> bool:
        return self.everything or pid in self.pids or any(m.search(comm) for m in self.matches)


@dataclass(slots=True)
class AlertTracker:
    """Rule states of every host; ``evaluate`` one host's tick to the events it causes."""

    thresholds: Mapping[str, float]
    for_ticks: int = 1
    cooldown_s: float = 300.0
    selection: Selection = field(default_factory=Selection)
    states: dict[Key, RuleState] = field(default_factory=dict)

    def candidates(self, host: str, rates: TickRates) -> list[tuple[Key, float, float]]:
        """Every (key, value, threshold) that holds at this tick."""
        held: list[tuple[Key, float, float]] = []
        if self.selection.everything:
            for rule, measure, _severity in HOST_RULES:
                value, limit = rates.rates.get(measure), self.thresholds.get(rule)
                if value is not None and limit is not None and value >= limit:
                    held.append(((host, rule, None, None), value, limit))
        for proc in rates.processes:
            if not self.selection.wants(proc.pid, proc.comm):
                continue
            for rule, measure, _severity in PROCESS_RULES:
                value, limit = getattr(proc, measure), self.thresholds.get(rule)
                if limit is not None and value >= limit and self.costly(rule, proc, rates.interval_s):
                    held.append(((host, rule, proc.pid, proc.comm), value, limit))
        return held

    def costly(self, rule: str, proc: ProcRate, interval_s: float) -> bool:
        """Whether the process's faults cost what the rule's cost gate asks (no gate: always)."""
        gate = self.thresholds.get(COST_GATES.get(rule, ""))
        if gate is None:
            return True
        cost = process_cost(proc.total_minflt_per_s, proc.total_majflt_per_s, None, None, interval_s)
        return cost.minor_ms_per_s >= gate

    def evaluate(self, host: str, now_s: float, ts: str, rates: TickRates) -> list[dict[str, Any]]:
        """The alert / resolved events of one host's tick (``now_s`` monotonic, ``ts`` for the events)."""
        events: list[dict[str, Any]] = []
        held = self.candidates(host, rates)
        holding = {key for key, _v, _t in held}
        exited = {(p.pid, p.comm) for p in rates.exited}
        for key, value, limit in held:
            state = self.states.setdefault(key, RuleState())
            state.holding += 1
            state.value = value
            if state.active or state.holding < self.for_ticks:
                continue
            if state.last_alert is not None and now_s - state.last_alert < self.cooldown_s:
                continue  # suppressed: the same alert within the cooldown
            state.active, state.last_alert = True, now_s
            events.append(_event("alert", key, ts, value, limit, self.for_ticks, severity=_severity(key[1])))
        for key, state in list(self.states.items()):
            if key[0] != host or key in holding:
                continue
            if state.active:
                reason = "exited" if (key[2], key[3]) in exited else "below threshold"
                threshold = self.thresholds.get(key[1])
                events.append(
                    _event("resolved", key, ts, state.value, threshold, self.for_ticks, reason=reason)
                )
            state.holding, state.active = 0, False
            if state.last_alert is None or now_s - state.last_alert >= self.cooldown_s:
                del self.states[key]
        return events

    def host_lost(self, host: str) -> None:
        """A dropped connection restarts the ``--for`` count (the cooldown memory stays)."""
        for key, state in self.states.items():
            if key[0] == host:
                state.holding = 0

    def labels(self, host: str) -> dict[tuple[int | None, str | None], tuple[str, str]]:
        """(pid, comm) -> (state label, rule) for the live table; the most severe state per process."""
        out: dict[tuple[int | None, str | None], tuple[str, str]] = {}
        for (name, rule, pid, comm), state in self.states.items():
            label = state.label(self.for_ticks)
            if name == host and label and (out.get((pid, comm), ("", ""))[0] != "ALERT"):
                out[(pid, comm)] = (label, rule)
        return out


def _severity(rule: str) -> Severity:
    return next((s for r, _m, s in PROCESS_RULES + HOST_RULES if r == rule), Severity.warning)


def _event(
    kind: str, key: Key, ts: str, value: float, limit: float | None, for_ticks: int, **extra: Any
) -> dict[str, Any]:
    host, rule, pid, comm = key
    return {
        "type": kind,
        "host": host,
        "ts": ts,
        "pid": pid,
        "comm": comm,
        "rule": rule,
        "value": round(value, 1),
        "threshold": limit,
        "for_ticks": for_ticks,
        **extra,
    }


def exits(host: str, ts: str, gone: Iterable[ProcCounters], followed: frozenset[int]) -> list[dict[str, Any]]:
    """``exit`` events for followed (``--pid``) processes that are gone, as the guide's monitor says."""
    return [
        {"type": "exit", "host": host, "ts": ts, "pid": p.pid, "comm": p.comm, "starttime": p.starttime}
        for p in gone
        if p.pid in followed
    ]
