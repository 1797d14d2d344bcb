"""Findings and verdicts: the contract everything downstream of the engine reads.

In: what the playbook engine makes of module outcomes. Out: the vocabularies (``vocab``: host states,
severities, verdict codes, as enums with one order) and the records (``records``: ``Finding``,
``Verdict``, ``HostResult``, ``RunResult``...). Fleet aggregation, the terminal table, the markdown
report, the history and the JSON export read only these.
"""

from diag.findings.records import (
    CARRIED_EVIDENCE,
    Baseline,
    Culprit,
    Finding,
    HostResult,
    RateBaseline,
    Remediation,
    RunResult,
    Verdict,
)
from diag.findings.vocab import (
    HOST_STATES,
    UNREACHABLE_STATES,
    VERDICT_CODES,
    HostState,
    Severity,
    VerdictCode,
    was_judged,
)

__all__ = [
    "CARRIED_EVIDENCE",
    "HOST_STATES",
    "UNREACHABLE_STATES",
    "VERDICT_CODES",
    "Baseline",
    "Culprit",
    "Finding",
    "HostResult",
    "HostState",
    "RateBaseline",
    "Remediation",
    "RunResult",
    "Severity",
    "Verdict",
    "VerdictCode",
    "was_judged",
]
