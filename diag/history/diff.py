"""The diff between two audits: which problems are new, persisting, resolved, or unknown now.

In: the problems still open after the previous complete audit of the same scope (``Problem`` records,
each with its first-seen time, streak and last notification) and this audit's ``HostResult`` list.
Out: a ``Diff``. A problem is a host's non-ok verdict or a failing check of severity warning or worse,
identified by host + code (verdict code or check id) + the culprit's comm (not its pid, which changes on
restart). A host that was unreachable or not evaluable this time, or a check that was skipped (not
evaluable), leaves its previous problems ``unknown`` (carried, never ``resolved``); a check that passed, or
did not run because its branch was not taken (its ``when:`` is false now), is ``resolved``.

>>> from diag.findings import HostResult, Verdict, Culprit
>>> java = Culprit(7, "java", 5e3, 0)
>>> storm = HostResult("web1", verdict=Verdict("minor-storm", "warning", "storm", (java,)))
>>> d = diff_problems([], [storm], now="t1")
>>> [(p.key, p.status) for p in d.new]
[(('web1', 'minor-storm', 'java'), 'new')]
>>> quiet = HostResult("web1", verdict=Verdict("ok", "ok", "quiet"))
>>> [(p.key, p.status) for p in diff_problems(d.open, [quiet], now="t2").resolved]
[(('web1', 'minor-storm', 'java'), 'resolved')]
>>> gone = HostResult("web1", status="unreachable")
>>> [p.status for p in diff_problems(d.open, [gone], now="t2").unknown]
['unknown']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from diag.findings import HostResult, Severity, VerdictCode, was_judged

PROBLEM_SEVERITY = Severity.warning  # checks below this are context, not problems
DIFF_KEYS = ("new", "persisting", "resolved", "unknown")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem on one host, as the history keeps it between audits."""

    host: str
    code: str
    comm: str
    kind: str  # "verdict" or "check"
    severity: str
    summary: str
    status: str = "new"  # new persisting resolved unknown
    first_seen: str = ""
    streak: int = 1  # audits in a row it was seen (unknown audits neither add nor break it)
    last_notified: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.host, self.code, self.comm)


@dataclass(frozen=True, slots=True)
class Diff:
    """This audit against the previous one; ``open`` is what the next audit compares against.

    Its plain data (``diag.shared.records.to_data``) is ``{new, persisting, resolved, unknown}``, each a
    list of problems: the ``diff.json`` of an audit and ``pfdiag history --diff --json``.
    """

    new: tuple[Problem, ...] = ()
    persisting: tuple[Problem, ...] = ()
    resolved: tuple[Problem, ...] = ()
    unknown: tuple[Problem, ...] = ()

    @property
    def open(self) -> list[Problem]:
        return [*self.new, *self.persisting, *self.unknown]

    def counts(self) -> dict[str, int]:
        return {key: len(getattr(self, key)) for key in DIFF_KEYS}


def _check_comm(evidence: Mapping[str, Any]) -> str:
    """A check naming processes is about the first one's command: ``evidence.processes`` (records, as
    audit-checks.yml gives them) or ``evidence.processes_over`` (comms, as triage.yml's rate checks).

    >>> _check_comm({"processes": [{"pid": 7, "comm": "java"}]}), _check_comm({"processes_over": ["pg"]})
    ('java', 'pg')
    """
    for key in ("processes", "processes_over"):
        processes = evidence.get(key)
        if isinstance(processes, list) and processes:
            first = processes[0]
            return str((first.get("comm") if isinstance(first, Mapping) else first) or "")
    return ""


def host_problems(result: HostResult, now: str) -> list[Problem]:
    """The problems a host shows in this audit (nothing unless it was evaluated)."""
    if not _judged(result) or result.verdict is None:
        return []
    found: list[Problem] = []
    verdict = result.verdict
    if VerdictCode.read(verdict.code).problem:
        comm = verdict.culprits[0].comm if verdict.culprits else ""
        found.append(Problem(result.host, verdict.code, comm, "verdict", verdict.severity, verdict.summary))
    for finding in result.findings:
        if finding.status == "fail" and Severity.read(finding.severity) >= PROBLEM_SEVERITY:
            comm = _check_comm(finding.evidence)
            found.append(
                Problem(result.host, finding.check, comm, "check", finding.severity, finding.message)
            )
    unique = {p.key: p for p in found}  # a check id that ran twice counts once
    return [replace(p, first_seen=now) for p in unique.values()]


def _judged(result: HostResult) -> bool:
    return was_judged(result.status, result.verdict.code if result.verdict else None)


def _evaluated(result: HostResult | None, problem: Problem) -> bool:
    """Whether this audit could see ``problem`` at all (host evaluated, its check not skipped)."""
    if result is None or not _judged(result):
        return False
    if problem.kind == "check":
        # skipped (not evaluable) -> unknown; passed, or its branch not taken (`when:` false) -> resolved
        statuses = {f.status for f in result.findings if f.check == problem.code}
        return statuses != {"skip"}
    return True


def diff_problems(previous: Iterable[Problem], results: Sequence[HostResult], now: str) -> Diff:
    """Compare the problems open after the previous audit with this audit's host results."""
    by_host = {r.host: r for r in results}
    current = [p for r in results for p in host_problems(r, now)]
    return compare(previous, current, lambda problem: _evaluated(by_host.get(problem.host), problem))


def compare(
    previous: Iterable[Problem], current: Iterable[Problem], evaluated: Callable[[Problem], bool]
) -> Diff:
    """The diff of two problem sets; ``evaluated(old)`` says whether this audit could see ``old`` at all."""
    now = {p.key: p for p in current}
    before = {p.key: p for p in previous}
    new, persisting, resolved, unknown = [], [], [], []
    for key, problem in now.items():
        old = before.get(key)
        if old is None:
            new.append(replace(problem, status="new"))
        else:
            persisting.append(
                replace(
                    problem,
                    status="persisting",
                    first_seen=old.first_seen,
                    streak=old.streak + 1,
                    last_notified=old.last_notified,
                )
            )
    for key, old in before.items():
        if key in now:
            continue
        if evaluated(old):
            resolved.append(replace(old, status="resolved"))
        else:
            unknown.append(replace(old, status="unknown"))
    return Diff(tuple(new), tuple(persisting), tuple(resolved), tuple(unknown))
