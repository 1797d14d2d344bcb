"""The records of a result: what the engine found on each host, and the run they belong to.

In: module outcomes (the engine builds these). Out: ``Finding``, ``Culprit``, ``Remediation``,
``Verdict``, ``Baseline``, ``HostResult`` and ``RunResult``: what fleet aggregation, the reports, the
history and the JSON export read. A host's measurements are the probe's typed ``HostSample``
(``HostResult.sample``); ``HostResult.to_dict`` derives the JSON from it.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from diag.probe.deepdive import Profile
from diag.probe.facts import Facts
from diag.probe.measurements import HostSample, OwnPlusChildren, brief_facts
from diag.probe.workload import Workload
from diag.shared.records import from_data, shared, to_data, to_sparse_data

# A finding's fields that name things rather than measure them: shared across hosts (``drop_details``).
_SHARED_NAMES = ("check", "task", "status", "severity", "op", "measures")


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one check on one host.

    ``status`` is ``fail`` when the condition it looks for is present (a problem or a branch taken),
    ``pass`` when it is absent, ``skip`` when it could not be evaluated (``reason`` says why).
    """

    check: str
    task: str
    status: str
    severity: str
    message: str
    value: float | int | None = None  # a count stays a count: a saved run's JSON reads back as written
    op: str | None = None
    threshold: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None
    # What the value is, as ``SCOPE.FIELD`` (``host.minflt_per_s``, ``process.majflt_per_s``): set by
    # the check's ``measures:``, so fleet aggregation finds the playbook's thresholds by measurement.
    measures: str | None = None


# The evidence of every brief finding that has none: one dict, not one a finding (``drop_details``).
_NO_EVIDENCE: Mapping[str, Any] = {}
# What the next audit's ``previous`` offers a playbook per host (``previous.oom_kill_total``,
# ``previous.boot_id``): the history takes them from whichever finding's evidence carries them
# (``diag.history.store``), so a brief keeps them in a passed check's evidence too.
CARRIED_EVIDENCE = ("oom_kill_total", "boot_id")


def _brief_finding(finding: Finding) -> Finding:
    """``finding`` as a brief keeps it: its names (``_SHARED_NAMES``) interned, its threshold shared,
    and a passed check without its value, message and evidence but what the history carries (only
    failed and skipped ones' are read from memory: the history's problems, the report's spikes, the
    finding groups; ``findings.csv`` and the JSON read them back from ``hosts.jsonl``)."""
    names: dict[str, Any] = {}
    for name in _SHARED_NAMES:
        value = getattr(finding, name)
        if isinstance(value, str):
            names[name] = sys.intern(value)
    if finding.threshold is not None:
        names["threshold"] = shared(finding.threshold, (type(finding.threshold), finding.threshold))
    evidence = finding.evidence
    if finding.status == "pass":
        names.update(message="", value=None)
        evidence = {k: evidence[k] for k in CARRIED_EVIDENCE if evidence.get(k) is not None}
    names["evidence"] = evidence or _NO_EVIDENCE
    brief = dataclasses.replace(finding, **names)
    if brief.status != "pass" or evidence:
        return brief
    # nothing of its host's left in it: one object for each check's pass in the fleet
    names_key = tuple(getattr(brief, name) for name in (*_SHARED_NAMES, "reason"))
    return shared(brief, (Finding, *names_key, type(brief.threshold), brief.threshold))


@dataclass(frozen=True, slots=True)
class Culprit(OwnPlusChildren):
    """A process named by a verdict, with the rates that made it one."""

    pid: int
    comm: str
    minflt_per_s: float
    majflt_per_s: float
    swap_kib: int | None = None
    rss_kib: int | None = None
    cgroup: str | None = None
    # faults of the children it reaped during the interval (short-lived workers), per second
    children_minflt_per_s: float = 0.0
    children_majflt_per_s: float = 0.0
    workload: Workload | None = None  # the unit, pod or container it runs in (diag/probe/workload.py)


@dataclass(frozen=True, slots=True)
class Remediation:
    """A suggestion with the evidence it rests on and optional next-step commands."""

    title: str
    text: str
    commands: tuple[str, ...] = ()
    verdict: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The host's diagnosis: a code from ``VERDICT_CODES``, how bad, why, and who."""

    code: str
    severity: str
    summary: str
    culprits: tuple[Culprit, ...] = ()
    task: str | None = None


@dataclass(frozen=True, slots=True)
class RateBaseline:
    """One rate of a host against the host's own recent audits: their median and p95, and this run."""

    median: float
    p95: float
    now: float | None = None
    ratio: float | None = None  # now / median; None when the median is 0 or there is no "now"
    usual: bool | None = None  # at or under the usual ceiling (``diag.history.baseline.usual_ceiling``)


@dataclass(frozen=True, slots=True)
class Baseline:
    """Is this normal for this host? Its rates now against its own audits of the last ``days``.

    ``status``: ``usual``, ``above`` (a rate over its usual ceiling), ``few-audits`` (fewer than the
    minimum to state a baseline) or ``no-history``. ``ratio`` is that of the rate the status is about.
    ``summary`` is the sentence the reports show ("12x its usual minor/s (median 3,100 over 96 audits)").
    """

    status: str
    audits: int = 0
    days: float = 0.0
    minflt_per_s: RateBaseline | None = None
    majflt_per_s: RateBaseline | None = None
    ratio: float | None = None
    summary: str = ""
    label: str = ""  # the same in a few words, for a table cell ("12x usual minor/s")


@dataclass(slots=True)
class HostResult:
    """Everything one host produced in a run. Built up by the engine, then frozen into a dict.

    ``status`` is one of ``HOST_STATES``; ``reason`` explains any status but ``ok``.
    ``sample`` is what the sample module measured (None when it did not run), ``facts`` what the
    facts module read (else the sample's facts).
    """

    host: str
    status: str = "ok"
    reason: str | None = None
    verdict: Verdict | None = None
    findings: list[Finding] = field(default_factory=list)
    remediation: list[Remediation] = field(default_factory=list)
    sample: HostSample | None = None
    facts: Facts | None = None
    task_stats: dict[str, int] = field(
        default_factory=lambda: {"ok": 0, "failed": 0, "skipped": 0, "ignored": 0}
    )
    raw: str | None = None
    elapsed_s: float = 0.0
    group_names: list[str] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)  # deep dive (profile module), per process
    baseline: Baseline | None = None  # this host against its own audits (when a history was read)

    @property
    def host_facts(self) -> Facts | None:
        """The facts module's facts, else those the sample read."""
        return self.facts if self.facts is not None else (self.sample.facts if self.sample else None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``hosts.<name>`` in ``--json`` output (documented in the README)."""
        sample = self.sample.view() if self.sample is not None else {}
        facts = self.host_facts
        return {
            **self._head(),
            "rates": sample.get("rates", {}),
            "top_processes": sample.get("processes", []),
            "sample": sample,
            "facts": to_data(facts) if facts is not None else {},
            **self._tail(),
        }

    def to_stored(self) -> dict[str, Any]:
        """The form ``hosts.jsonl`` keeps, a third of ``to_dict``'s size: without its copies (``rates``
        and ``top_processes`` are views of ``sample``; ``facts`` is the sample's unless the facts module
        ran) and without the sample's None fields and fields at their default (``to_sparse_data``).
        ``from_dict`` reads both into the same result."""
        stored = {**self._head(), "sample": to_sparse_data(self.sample) if self.sample is not None else {}}
        if self.facts is not None:
            stored["facts"] = to_data(self.facts)
        return {**stored, **self._tail()}

    def _head(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "status": self.status,
            "reason": self.reason,
            "verdict": self.verdict.code if self.verdict else None,
            "severity": self.verdict.severity if self.verdict else None,
            "summary": self.verdict.summary if self.verdict else None,
            "verdict_task": self.verdict.task if self.verdict else None,
            "culprits": to_data(self.verdict.culprits) if self.verdict else [],
            "findings": to_data(self.findings),
            "remediation": to_data(self.remediation),
        }

    def _tail(self) -> dict[str, Any]:
        return {
            "task_stats": dict(self.task_stats),
            "elapsed_s": round(self.elapsed_s, 3),
            "group_names": list(self.group_names),
            "profiles": to_data(self.profiles),
            "baseline": to_data(self.baseline) if self.baseline is not None else None,
        }

    def brief(self) -> HostResult:
        """A copy of this result as the controller keeps it once its line is in ``hosts.jsonl``
        (``drop_details``)."""
        copy = dataclasses.replace(self)
        copy.drop_details()
        return copy

    def drop_details(self) -> None:
        """Keep only what the fleet tables, verdict counts, culprit groups, outliers, recap and audit
        history read (the verdict, the findings but a passed check's message, ``HostSample.brief``),
        in place: not the raw output, the remediation nor the rest of the sample. A report reads the
        whole result back (``RunResult.detail``) for the few hosts it details."""
        culprits = {c.pid for c in self.verdict.culprits} if self.verdict else set()
        self.sample = self.sample.brief(culprits) if self.sample is not None else None
        self.raw = None
        self.remediation = []
        # the same few names on every host (check, task, state, ...): one string each, not one a host
        self.findings = [_brief_finding(f) for f in self.findings]
        if self.facts is not None:
            self.facts = brief_facts(self.facts)
        self.group_names = [sys.intern(g) for g in self.group_names]
        # the same counts on most hosts: one dict for each set of them (nothing changes a brief's)
        self.task_stats = shared(self.task_stats, (dict, tuple(self.task_stats.items())))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], raw: str | None = None) -> HostResult:
        """Rebuild a result from its ``to_dict`` form (``pfdiag report`` on a saved run)."""
        verdict = None
        if data.get("verdict"):
            verdict = Verdict(
                code=data["verdict"],
                severity=data.get("severity") or "info",
                summary=data.get("summary") or "",
                culprits=tuple(from_data(Culprit, c) for c in data.get("culprits") or ()),
                task=data.get("verdict_task"),
            )
        return cls(
            host=data["host"],
            status=data.get("status", "ok"),
            reason=data.get("reason"),
            verdict=verdict,
            findings=[from_data(Finding, f) for f in data.get("findings") or ()],
            remediation=[from_data(Remediation, r) for r in data.get("remediation") or ()],
            sample=HostSample.from_view(data["sample"]) if data.get("sample") else None,
            facts=from_data(Facts, data["facts"]) if data.get("facts") else None,
            task_stats=dict(data.get("task_stats") or {}),
            raw=raw,
            elapsed_s=float(data.get("elapsed_s") or 0.0),
            group_names=list(data.get("group_names") or []),
            profiles=[from_data(Profile, p) for p in data.get("profiles") or ()],
            baseline=from_data(Baseline, data["baseline"]) if data.get("baseline") else None,
        )


@dataclass(slots=True)
class RunResult:
    """One run of a playbook over a set of hosts: what the reports and exports are rendered from."""

    playbook: str
    inventory: list[str]
    limit: str | None
    started: str
    finished: str | None = None
    argv: list[str] = field(default_factory=list)
    extra_vars: dict[str, Any] = field(default_factory=dict)
    interval_s: float | None = None
    hosts: list[HostResult] = field(default_factory=list)
    interrupted: bool = False
    version: str = ""
    run_dir: str | None = None
    replay_of: str | None = None  # the run folder this run replayed (``pfdiag run --replay``)
    # What the hosts were compared with, said once: "reports/history.sqlite, 14 days", or why nothing
    # ("no history: nothing at ..."); None when no history was consulted (a replay, an older run).
    history_note: str | None = None
    # Where a host's whole result is read back when ``hosts`` hold briefs (``HostResult.brief``): the
    # run folder's hosts.jsonl, by the host's line (``diag.runs.details``); None when they are whole.
    details: Callable[[str], HostResult | None] | None = field(default=None, repr=False, compare=False)

    def detail(self, name: str) -> HostResult | None:
        """Host ``name`` with everything it produced (None when the run has no such host)."""
        found = self.details(name) if self.details is not None else None
        return found if found is not None else next((h for h in self.hosts if h.host == name), None)

    def each_detail(self) -> Iterator[HostResult]:
        """Every host, in ``hosts`` order, with everything it produced: one at a time, so an export
        of every host never holds them all."""
        for host in self.hosts:
            found = self.details(host.host) if self.details is not None else None
            yield found if found is not None else host

    def metadata(self) -> dict[str, Any]:
        """Everything but the hosts, as stored in ``run.json`` (``replay_of`` only in a replay)."""
        meta = {
            "playbook": self.playbook,
            "inventory": list(self.inventory),
            "limit": self.limit,
            "started": self.started,
            "finished": self.finished,
            "argv": list(self.argv),
            "extra_vars": dict(self.extra_vars),
            "interval_s": self.interval_s,
            "interrupted": self.interrupted,
            "version": self.version,
            "run_dir": self.run_dir,
        }
        if self.replay_of is not None:
            meta["replay_of"] = self.replay_of
        if self.history_note is not None:
            meta["history_note"] = self.history_note
        return meta
