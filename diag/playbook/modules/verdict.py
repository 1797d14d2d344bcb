"""The ``verdict`` module: set the host's diagnosis (code, severity, summary, culprit processes).

In: ``code`` (one of ``VERDICT_CODES``), ``severity``, ``summary`` (template), ``culprits`` (an
expression giving a list of process dicts as ``sample`` registers them). Out: the host's ``Verdict``.
The first verdict task that runs wins; later ones are skipped ("verdict already set by <task>").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from diag.findings import VERDICT_CODES, Culprit, Severity, Verdict, VerdictCode
from diag.playbook.modules.base import Arg, HostContext, Module, Outcome, TaskFailed, TaskSkipped, as_float
from diag.shared.records import to_data

VERDICT_SEVERITIES = tuple(s.value for s in Severity)


class VerdictModule(Module):
    """Set the host's verdict. Put verdict tasks in priority order with ``when:``: the first that runs wins.

    A verdict task that runs after the verdict is set is skipped with the reason
    ``verdict already set by <task>``; so a last verdict task without ``when:`` is the fallback. A host
    that ends the run ``ok`` with no verdict gets ``not-evaluable`` ("no verdict task matched").
    ``culprits`` is an expression (or ``"{{ }}"`` template) giving process dicts with ``pid``, ``comm``,
    ``minflt_per_s``, ``majflt_per_s`` and optionally ``swap_kib``, ``rss_kib``, ``cgroup``.

    Example::

        - name: Verdict - minor-fault storm
          when: host_minor.failed or proc_minor.failed
          verdict:
            code: minor-storm
            severity: warning
            summary: "{{ s.rates.minflt_per_s }} minor faults/s host-wide"
            culprits: minor_procs[:3]
    """

    name: ClassVar[str] = "verdict"
    args: ClassVar[dict[str, Arg]] = {
        "code": Arg(required=True, choices=VERDICT_CODES, help=f"one of: {', '.join(VERDICT_CODES)}"),
        "severity": Arg(default="info", choices=VERDICT_SEVERITIES),
        "summary": Arg(default=""),
        "culprits": Arg(kind="expression"),
    }

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        current = ctx.verdict
        if current is not None:
            raise TaskSkipped(f"verdict already set by {current.task or 'an earlier task'}")
        code, severity = str(args["code"]), str(args["severity"])
        if code not in VERDICT_CODES:
            raise TaskFailed(f"verdict code {code!r} is not one of {', '.join(VERDICT_CODES)}")
        if severity not in VERDICT_SEVERITIES:
            raise TaskFailed(f"severity {severity!r} is not one of {', '.join(VERDICT_SEVERITIES)}")
        raw = ctx.value_of(args["culprits"]) if args.get("culprits") is not None else []
        if raw is not None and not isinstance(raw, list | tuple):
            raise TaskFailed(f"culprits must be a list of processes, got {raw!r}")
        culprits = tuple(_culprit(item) for item in raw or [])
        summary = str(args["summary"]).strip()
        verdict = Verdict(VerdictCode(code), Severity(severity), summary, culprits, task=ctx.task)
        return Outcome(to_data(verdict), verdict=verdict)


def _culprit(item: Any) -> Culprit:
    """A process dict (as ``sample`` registers it) -> ``Culprit``; rates that are ``None`` count as 0."""
    if not isinstance(item, Mapping):
        raise TaskFailed(f"a culprit must be a process mapping, got {item!r}")
    missing = [k for k in ("pid", "comm") if item.get(k) is None]
    if missing:
        raise TaskFailed(f"culprit {dict(item)!r} lacks {', '.join(missing)}")

    def kib(key: str) -> int | None:
        value = as_float(item.get(key), key)
        return None if value is None else int(value)

    return Culprit(
        pid=int(item["pid"]),
        comm=str(item["comm"]),
        minflt_per_s=as_float(item.get("minflt_per_s"), "minflt_per_s") or 0.0,
        majflt_per_s=as_float(item.get("majflt_per_s"), "majflt_per_s") or 0.0,
        swap_kib=kib("swap_kib"),
        rss_kib=kib("rss_kib"),
        cgroup=None if item.get("cgroup") is None else str(item["cgroup"]),
        children_minflt_per_s=as_float(item.get("children_minflt_per_s"), "children_minflt_per_s") or 0.0,
        children_majflt_per_s=as_float(item.get("children_majflt_per_s"), "children_majflt_per_s") or 0.0,
    )
