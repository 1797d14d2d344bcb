"""The ``check`` module: compare a value with a threshold (or test conditions) and record a Finding.

In: ``id``, then either ``value`` + ``op`` + ``threshold`` or ``that``; ``severity``, ``message``,
``evidence``, ``skip_reason``, ``not_evaluable_key``. Out: an ``Outcome`` with one ``diag.findings.Finding``
for the host's result, and a registered ``{failed, status, value, threshold, ...}`` for later ``when:``.
A check whose condition holds is not a task failure: it is a finding with status ``fail``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from diag.findings import Finding, Severity
from diag.playbook.modules.base import Arg, HostContext, Module, Outcome, TaskFailed, as_float, number_check
from diag.shared.records import to_data

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
CHECK_SEVERITIES = tuple(s.value for s in Severity if s > Severity.ok)  # a check is never "ok"


class CheckModule(Module):
    """Evaluate one condition on the host's data into a Finding (``pass``, ``fail`` or ``skip``).

    Either ``value`` (an expression or ``"{{ }}"`` template giving a number) is compared with
    ``threshold`` using ``op`` (``> >= < <= == !=``), or ``that`` (a boolean expression, or a list that
    must all hold) is tested. The status is ``fail`` when the condition holds. When ``value`` is
    ``None`` (not evaluable on this host: no PSI, counters unreadable) the finding is ``skip`` with a
    reason: the entry ``not_evaluable_key`` of the ``not_evaluable`` variable (set by ``sample``), else
    the ``skip_reason`` template. ``message``, ``evidence`` (name -> template) and ``skip_reason`` may
    use ``value``, ``threshold`` and ``op``. ``measures`` names what ``value`` is (``host.minflt_per_s``,
    ``process.total_majflt_per_s``): fleet reports read the playbook's thresholds by it.
    The registered result has ``failed`` (condition holds),
    ``status``, ``value``, ``threshold``, ``op``, ``severity``, ``message``, ``evidence``, ``reason``.

    Example::

        - name: Host-wide major faults
          check:
            id: host-major-rate
            value: s.rates.majflt_per_s
            op: ">="
            threshold: "{{ host_majflt_per_s }}"
            severity: warning
            message: "{{ value }} major faults/s (threshold {{ threshold }}/s)"
            not_evaluable_key: vmstat
          register: host_major

        - name: Page-fault spike?
          check:
            id: spike
            that: host_major.failed or host_minor.failed
            severity: info
    """

    name: ClassVar[str] = "check"
    args: ClassVar[dict[str, Arg]] = {
        "id": Arg(required=True, help="a short stable name, e.g. id: host-major-rate"),
        "value": Arg(kind="expression"),
        "op": Arg(choices=tuple(OPS)),
        "threshold": Arg(check=number_check()),
        "that": Arg(kind="expression"),
        "severity": Arg(default="warning", choices=CHECK_SEVERITIES),
        "message": Arg(kind="late"),
        "evidence": Arg(kind="late", default={}),
        "skip_reason": Arg(kind="late"),
        "not_evaluable_key": Arg(),
        "measures": Arg(help="what value is, SCOPE.FIELD: host.minflt_per_s, process.majflt_per_s, ..."),
    }

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        has_value, has_that = "value" in args, "that" in args
        if has_value == has_that:
            return [("give either 'value' (with 'op' and 'threshold') or 'that'", None)]
        if has_value and ("op" not in args or "threshold" not in args):
            return [("'value' needs 'op' and 'threshold'", "e.g. op: '>=' and threshold: 10")]
        if "evidence" in args and not isinstance(args["evidence"], Mapping):
            return [("'evidence' must be a mapping of name: template", None)]
        return []

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        check_id = str(args["id"])
        severity = str(args["severity"])
        if severity not in CHECK_SEVERITIES:
            raise TaskFailed(f"severity {severity!r} is not one of {', '.join(CHECK_SEVERITIES)}")
        op = str(args["op"]) if args.get("op") is not None else None
        if op is not None and op not in OPS:
            raise TaskFailed(f"op {op!r} is not one of {' '.join(OPS)}")
        threshold = as_float(args.get("threshold"), "threshold")
        if args.get("that") is not None:
            value, holds = None, _test_that(ctx, args["that"])
        else:
            value = as_float(ctx.value_of(args["value"]), f"value {args['value']!r}")
            if threshold is None or op is None:
                raise TaskFailed("'value' needs 'op' and a numeric 'threshold'")
            holds = None if value is None else OPS[op](value, threshold)
        names: dict[str, Any] = {"value": value, "threshold": threshold, "op": op}
        reason = None
        if holds is None:
            status = "skip"
            reason = _skip_reason(args, ctx, names)
            message = reason
        else:
            status = "fail" if holds else "pass"
            message = _message(args, ctx, names, check_id, holds)
        evidence = ctx.render(dict(args.get("evidence") or {}), **names)
        finding = Finding(
            check=check_id,
            task=ctx.task,
            status=status,
            severity=severity,
            message=message,
            value=value,
            op=op,
            threshold=threshold,
            evidence=evidence,
            reason=reason,
            measures=None if args.get("measures") is None else str(args["measures"]),
        )
        registered = {"failed": bool(holds), **to_data(finding), "id": check_id}
        return Outcome(registered, findings=(finding,))


def _test_that(ctx: HostContext, that: Any) -> bool | None:
    """All conditions hold -> True; any condition is None (not evaluable) -> None."""
    results = [ctx.value_of(item) for item in (that if isinstance(that, list) else [that])]
    if any(r is None for r in results):
        return None
    return all(bool(r) for r in results)


def _skip_reason(args: Mapping[str, Any], ctx: HostContext, names: dict[str, Any]) -> str:
    key = args.get("not_evaluable_key")
    if key is not None:
        table = ctx.variables.get("not_evaluable")
        if isinstance(table, Mapping) and table.get(key):
            return str(table[key])
    if args.get("skip_reason") is not None:
        return str(ctx.render(args["skip_reason"], **names))
    what = args.get("value", args.get("that"))
    return f"{what!r} is not evaluable on this host"


def _message(
    args: Mapping[str, Any], ctx: HostContext, names: dict[str, Any], check_id: str, holds: bool
) -> str:
    if args.get("message") is not None:
        return str(ctx.render(args["message"], **names))
    if names["op"] is None:
        return f"{check_id}: condition {'holds' if holds else 'does not hold'}"
    verb = "" if holds else "not "
    return f"{check_id}: {names['value']:g} {verb}{names['op']} {names['threshold']:g}"
