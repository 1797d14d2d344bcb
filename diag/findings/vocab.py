"""The vocabularies of a result: host states, severities and verdict codes, each an enum with one order.

In: nothing (values read from files go through ``X.read``, which maps an unknown one to a documented
fallback). Out: ``HostState``, ``Severity``, ``VerdictCode`` (``StrEnum``: JSON, CSV, markdown, SQLite and
Jinja see the plain strings), their ranks, and ``was_judged``, the one rule for "this host got a verdict".
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from diag.shared.errors import UsageError


class HostState(StrEnum):
    """How far the run got on a host. Only ``ok`` hosts have a meaningful verdict.

    Declared in the order the reports list states (``HOST_STATES``). A state read from a file that this
    version does not know (a newer pfdiag's run, a hand-edited history) reads as ``failed``: the host did
    not complete, for a reason this version cannot name (the engine maps an unknown state the same way).
    """

    ok = "ok"
    failed = "failed"  # a task failed (probe failed, bad expression at run time, permission)
    unreachable = "unreachable"  # refused, timed out, no route, DNS
    auth_failed = "auth-failed"
    hostkey_unknown = "hostkey-unknown"
    hostkey_changed = "hostkey-changed"
    timeout = "timeout"  # the command itself timed out
    skipped = (
        "skipped"  # no task ran (e.g. all skipped by tags, or the run was interrupted before it started)
    )
    interrupted = "interrupted"  # Ctrl-C / SIGTERM stopped the host part-way

    @property
    def unreachable_kind(self) -> bool:
        """A "could not get in" state, which Ansible counts as unreachable (exit code 4)."""
        return self in _COULD_NOT_GET_IN

    @classmethod
    def read(cls, value: str | None) -> HostState:
        """The state a stored value names; unknown (or missing) -> ``failed``, never an error.

        >>> HostState.read("auth-failed"), HostState.read("exploded")
        (<HostState.auth_failed: 'auth-failed'>, <HostState.failed: 'failed'>)
        """
        return cls._value2member_map_.get(value or "", cls.failed)  # type: ignore[return-value]


_COULD_NOT_GET_IN = frozenset(
    (HostState.unreachable, HostState.auth_failed, HostState.hostkey_unknown, HostState.hostkey_changed)
)


class Severity(StrEnum):
    """How bad a finding or verdict is; ``--fail-on`` compares against these.

    ``rank`` is the one order (``ok`` 0 ... ``critical`` 3, the number the Prometheus gauge exports);
    ``<``/``>=`` compare by it, never alphabetically. ``parse`` is for what a user typed (an unknown name
    is a usage error); ``read`` is for what a file holds (an unknown name reads as ``info``: shown and
    kept, never counted as a problem, never a crash).
    """

    ok = "ok"
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        """The one order of severities, ``ok`` lowest.

        >>> Severity.critical.rank, Severity.ok.rank
        (3, 0)
        """
        return _SEVERITY_RANK[self]

    def __lt__(self, other: object) -> bool:
        return self.rank < other.rank if isinstance(other, Severity) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self.rank <= other.rank if isinstance(other, Severity) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self.rank > other.rank if isinstance(other, Severity) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self.rank >= other.rank if isinstance(other, Severity) else NotImplemented

    @classmethod
    def parse(cls, name: str) -> Severity:
        """A severity a user named (``--fail-on``); unknown -> ``UsageError`` listing the known ones."""
        try:
            return cls(name.strip().lower())
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise UsageError(f"unknown severity {name!r} (known: {known})") from None

    @classmethod
    def read(cls, value: str | None) -> Severity:
        """The severity a stored value names; unknown (or missing) -> ``info``.

        >>> Severity.read("critical"), Severity.read("severe")
        (<Severity.critical: 'critical'>, <Severity.info: 'info'>)
        """
        return cls._value2member_map_.get(value or "", cls.info)  # type: ignore[return-value]


_SEVERITY_RANK = {s: rank for rank, s in enumerate(Severity)}


class VerdictCode(StrEnum):
    """The host's diagnosis. Declared in the order the docs and the totals line list them.

    ``rank`` is the one order, worst highest: major-swap > major-file > minor-storm > not-evaluable > ok.
    A host we could not judge ranks above a healthy one, so a fleet table sorted worst first shows it
    before the healthy hosts; it ranks below every problem, so it never hides one. ``worst_known``
    says what a set of verdicts (the deep dive's processes) amounts to. A code read from a file that this
    version does not know reads as ``not-evaluable``: a verdict it cannot read is one it cannot judge.
    """

    ok = "ok"
    minor_storm = "minor-storm"
    major_swap = "major-swap"
    major_file = "major-file"
    not_evaluable = "not-evaluable"

    @property
    def rank(self) -> int:
        """The one order of verdicts, worst highest.

        >>> [c.value for c in VerdictCode.worst_first()]
        ['major-swap', 'major-file', 'minor-storm', 'not-evaluable', 'ok']
        """
        return _VERDICT_RANK[self]

    @property
    def severity(self) -> Severity:
        """The severity a verdict carries unless its task says otherwise (the deep dive's)."""
        return _VERDICT_SEVERITY[self]

    @property
    def judged(self) -> bool:
        """Whether the host was judged at all (every code but ``not-evaluable``)."""
        return self is not VerdictCode.not_evaluable

    @property
    def problem(self) -> bool:
        """A page-fault problem: a judged verdict worse than ``ok``."""
        return self.judged and self is not VerdictCode.ok

    @classmethod
    def read(cls, value: str | None) -> VerdictCode:
        """The code a stored value names; unknown (or missing) -> ``not-evaluable``.

        >>> VerdictCode.read("major-file"), VerdictCode.read("major-numa")
        (<VerdictCode.major_file: 'major-file'>, <VerdictCode.not_evaluable: 'not-evaluable'>)
        """
        return cls._value2member_map_.get(value or "", cls.not_evaluable)  # type: ignore[return-value]

    @classmethod
    def worst_first(cls) -> tuple[VerdictCode, ...]:
        """Every code by ``rank``, worst first: the order of the fleet tables."""
        return tuple(sorted(cls, key=lambda c: c.rank, reverse=True))

    @classmethod
    def worst_known(cls, codes: Iterable[str]) -> VerdictCode:
        """The worst judged verdict among ``codes``; ``not-evaluable`` only when none was judged.

        A deep dive that judged one process ``ok`` and lost another (it exited mid-profile) says ``ok``,
        and one that judged a storm says the storm: an unjudged process neither hides a judged one nor
        turns a healthy host into an unjudged one.

        >>> VerdictCode.worst_known(["not-evaluable", "ok"]), VerdictCode.worst_known(["not-evaluable"])
        (<VerdictCode.ok: 'ok'>, <VerdictCode.not_evaluable: 'not-evaluable'>)
        >>> VerdictCode.worst_known(["ok", "minor-storm", "not-evaluable"])
        <VerdictCode.minor_storm: 'minor-storm'>
        """
        judged = [c for c in map(cls.read, codes) if c.judged]
        return max(judged, key=lambda c: c.rank, default=cls.not_evaluable)


_VERDICT_RANK = {
    VerdictCode.ok: 0,
    VerdictCode.not_evaluable: 1,
    VerdictCode.minor_storm: 2,
    VerdictCode.major_file: 3,
    VerdictCode.major_swap: 4,
}
_VERDICT_SEVERITY = {
    VerdictCode.ok: Severity.ok,
    VerdictCode.not_evaluable: Severity.info,
    VerdictCode.minor_storm: Severity.warning,
    VerdictCode.major_file: Severity.critical,
    VerdictCode.major_swap: Severity.critical,
}


def was_judged(state: str | None, code: str | None) -> bool:
    """Whether a host was judged: it completed (state ``ok``) with a verdict that judged it. The audits
    count problems, and their disappearance, only on such hosts; a stored row is read leniently.

    >>> was_judged("ok", "minor-storm"), was_judged("ok", "not-evaluable"), was_judged("timeout", None)
    (True, False, False)
    """
    return HostState.read(state) is HostState.ok and code is not None and VerdictCode.read(code).judged


# The vocabularies as tuples of their values, in declaration order, for argument choices and listings.
HOST_STATES = tuple(s.value for s in HostState)
UNREACHABLE_STATES = tuple(s.value for s in HostState if s.unreachable_kind)
VERDICT_CODES = tuple(c.value for c in VerdictCode)
