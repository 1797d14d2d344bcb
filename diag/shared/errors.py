"""The one error tree of pfdiag: every expected failure is a DiagError subclass.

Stages raise the subclass that names them; only ``diag.cli`` turns them into exit codes.
A message says what failed, where (file:line, or host + command), and what to do.
"""

from __future__ import annotations


class DiagError(Exception):
    """Root of every error pfdiag expects and explains."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """``where: message (hint)`` on one line, the form the CLI prints."""
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class UsageError(DiagError):
    """Bad command-line options or option values."""


class InventoryError(DiagError):
    """An inventory file, folder, host pattern or vars file that cannot be read."""


class PlaybookError(DiagError):
    """A playbook that cannot be loaded, validated or evaluated (YAML, module, key, expression)."""


class TransportError(DiagError):
    """A command could not be run on a host; ``state`` says how it failed."""

    def __init__(
        self, message: str, *, state: str = "unreachable", where: str | None = None, hint: str | None = None
    ) -> None:
        self.state = state
        super().__init__(message, where=where, hint=hint)


class ParseError(DiagError):
    """Probe output that does not have the expected shape; quotes the bad line."""


class ReportError(DiagError):
    """A run folder that cannot be read back or rendered."""
