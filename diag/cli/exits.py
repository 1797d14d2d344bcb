"""The exit codes of ``pfdiag`` and the mapping of errors and finished runs to them.

In: a ``DiagError`` or a finished ``RunResult`` (and ``--fail-on``). Out: an ``ExitCode``: 0 ok; 1 other
error; 2 a host failed; 4 a host unreachable, or a playbook/inventory/YAML/expression error; 5 bad
options; 10 ``--fail-on`` matched; 99 interrupted; 250 internal error.
"""

from __future__ import annotations

from enum import IntEnum

from diag.findings import UNREACHABLE_STATES, HostState, RunResult, Severity
from diag.shared.errors import (
    DiagError,
    InventoryError,
    ParseError,
    PlaybookError,
    TransportError,
    UsageError,
)

REPORT_TO = "please report it, with the command line and `pfdiag --version`, to the pfdiag maintainers"


FAILED_STATES = ("failed", "timeout")


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    HOST_FAILED = 2
    UNREACHABLE_OR_PARSE = 4
    BAD_OPTIONS = 5
    FAIL_ON = 10
    INTERRUPTED = 99
    INTERNAL = 250


def error_exit_code(exc: DiagError) -> ExitCode:
    """The exit code of an error that stopped the command."""
    if isinstance(exc, UsageError):
        return ExitCode.BAD_OPTIONS
    if isinstance(exc, PlaybookError | InventoryError | ParseError | TransportError):
        return ExitCode.UNREACHABLE_OR_PARSE
    return ExitCode.ERROR


def run_exit_code(run: RunResult, fail_on: str | None) -> ExitCode:
    """Exit code of a finished run: interrupted > unreachable (4) > failed (2) > ``--fail-on`` (10) > 0."""
    if run.interrupted:
        return ExitCode.INTERRUPTED
    states = {HostState.read(host.status) for host in run.hosts}  # unknown (a newer run's) -> failed
    if states & set(UNREACHABLE_STATES):
        return ExitCode.UNREACHABLE_OR_PARSE
    if states & set(FAILED_STATES):
        return ExitCode.HOST_FAILED
    if fail_on is not None:
        limit = Severity.parse(fail_on)
        severities = [h.verdict.severity for h in run.hosts if h.verdict]
        if any(Severity.read(s) >= limit for s in severities):
            return ExitCode.FAIL_ON
    return ExitCode.OK
