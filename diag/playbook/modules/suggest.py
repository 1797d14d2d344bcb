"""The ``suggest`` module: attach a remediation (title, text with evidence, next-step commands).

In: ``title``, ``text`` (template), ``commands`` (list of templates), optional ``for`` (a verdict
code). Out: a ``diag.findings.Remediation`` for the host's result; with ``for`` it applies
only when the host's verdict has that code, else the task is skipped (a literal ``for`` before its
text and commands are rendered, as a false ``when:`` skips a task).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from diag.findings import VERDICT_CODES, Remediation
from diag.playbook.modules.base import Arg, HostContext, Module, Outcome, TaskSkipped
from diag.shared.records import to_data


class SuggestModule(Module):
    """Add a remediation to the host's report; ``text`` should quote the evidence it rests on.

    With ``for: <verdict code>`` the suggestion applies only when the host's verdict has that code
    (otherwise the task is skipped with the reason); without it, it always applies.

    Example::

        - name: Remediate swap-in majors
          suggest:
            for: major-swap
            title: Give the working set memory
            text: "Swap-in {{ s.rates.pswpin_per_s }} pages/s, {{ s.memory.mem_available_pct }} % available"
            commands:
              - "vmstat 1 5   # si/so columns"
    """

    name: ClassVar[str] = "suggest"
    args: ClassVar[dict[str, Arg]] = {
        "title": Arg(required=True),
        "text": Arg(default=""),
        "commands": Arg(default=[]),
        "for": Arg(choices=VERDICT_CODES),
    }

    def skip_early(self, literals: Mapping[str, Any], ctx: HostContext) -> str | None:
        return _other_verdict(literals.get("for"), ctx)

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        wanted = args.get("for")
        skip = _other_verdict(wanted, ctx)  # a templated ``for``, rendered now
        if skip is not None:
            raise TaskSkipped(skip)
        commands = args["commands"] if isinstance(args["commands"], list) else [args["commands"]]
        remediation = Remediation(
            title=str(args["title"]).strip(),
            text=str(args["text"]).strip(),
            commands=tuple(str(c) for c in commands),
            verdict=None if wanted is None else str(wanted),
        )
        return Outcome(to_data(remediation), remediation=(remediation,))


def _other_verdict(wanted: Any, ctx: HostContext) -> str | None:
    """Why a suggestion for verdict ``wanted`` does not apply on this host (None: it applies)."""
    current = ctx.verdict.code if ctx.verdict else None
    if wanted is None or current == wanted:
        return None
    return f"suggestion is for verdict {wanted}, host verdict is {current or 'not set'}"
