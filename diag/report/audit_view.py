"""What ``pfdiag audit`` prints on stdout: the run's terminal table, then what the audit did.

In: an audit's outcome (``diag.audit.service.AuditResult``, read through the ``AuditOutcome`` protocol
because the report comes before the services). Out: the text, the last line naming the history and the
audit's id; warnings are the caller's to print on stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from diag.findings import RunResult
from diag.report.since import terminal_counts
from diag.report.terminal import render_terminal
from diag.shared.escape import escape_terminal


class AuditOutcome(Protocol):
    """The parts of an audit's result that are shown."""

    @property
    def run(self) -> RunResult: ...
    @property
    def run_id(self) -> int: ...
    @property
    def baseline(self) -> tuple[int, str] | None: ...
    @property
    def diff(self) -> Any: ...
    @property
    def notify_status(self) -> str: ...
    @property
    def notify_error(self) -> str | None: ...
    @property
    def textfile(self) -> Path | None: ...
    @property
    def pruned(self) -> Sequence[int]: ...
    @property
    def history(self) -> Path | None: ...


def render_audit(result: AuditOutcome) -> str:
    """The terminal table of the run, the counts since the last audit, the notification, the files."""
    lines = [render_terminal(result.run), terminal_counts(result.diff, result.baseline)]
    if result.notify_status != "off":
        lines.append(
            f"notification: {result.notify_status}"
            + (f" ({escape_terminal(result.notify_error)})" if result.notify_error else "")
        )
    if result.textfile is not None:
        lines.append(f"textfile: {result.textfile}")
    if result.pruned:
        lines.append(f"pruned {len(result.pruned)} old audit(s): {', '.join(map(str, result.pruned))}")
    lines.append(f"history: {result.history} (audit #{result.run_id})")
    return "\n".join(lines)
