"""The ``debug`` module: show a message or a variable while a playbook runs (with ``-v``).

In: ``msg`` (a template) or ``var`` (an expression). Out: ``{msg}`` or ``{<var>: value}`` registered, and
the same as the ``-v`` detail of the task's line. A secret variable (``diag.shared.secrets``) shows as
``********``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from diag.playbook.modules.base import Arg, HostContext, Module, Outcome
from diag.shared.secrets import MASK, is_secret_name, redact_vars


class DebugModule(Module):
    """Print ``msg`` (a template) or the value of ``var`` (an expression) on the ``-v`` output.

    Nothing is printed without ``-v``; the value is still registered.

    Example::

        - debug:
            msg: "busiest process: {{ s.processes[0].comm }}"
        - debug:
            var: s.rates
    """

    name: ClassVar[str] = "debug"
    free_form: ClassVar[str | None] = "msg"
    args: ClassVar[dict[str, Arg]] = {
        "msg": Arg(),
        "var": Arg(kind="expression"),
    }

    def check_args(self, args: Any) -> list[tuple[str, str | None]]:
        if "msg" in args and "var" in args:
            return [("'msg' and 'var' are mutually exclusive", "keep one of them")]
        return []

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        if args.get("var") is not None:
            expression = str(args["var"])
            if is_secret_name(expression.rsplit(".", 1)[-1].strip()):
                shown: Any = MASK
            else:
                value = ctx.value_of(expression)
                shown = redact_vars(value) if isinstance(value, Mapping) else value
            registered = {expression: shown}
            return Outcome(registered, display=str(registered))
        msg = "Hello world!" if args.get("msg") is None else args["msg"]
        return Outcome({"msg": msg}, display=str(msg))
