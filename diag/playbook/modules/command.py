"""The ``command`` module: run one read-only shell command on the host and register what it printed.

In: ``cmd`` (a template; put values into it with the ``quote`` filter), ``ok_rcs``, ``failed_when``,
``timeout_s``. Out: ``{rc, stdout, stderr, stdout_lines, stderr_lines}``; an exit code outside
``ok_rcs`` (or ``failed_when`` true) fails the task, unless the task sets ``ignore_errors``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from diag.playbook.modules.base import (
    Arg,
    HostContext,
    Module,
    Outcome,
    TaskFailed,
    as_float,
    list_check,
    number_check,
)
from diag.shared.limits import MAX_INTERVAL_S


class CommandModule(Module):
    """Run a read-only command through the host's transport (``sh -c`` on the far side).

    pfdiag never changes a host: keep commands read-only (cat, grep, ps, perf stat ...). The command
    runs with ``timeout_s`` (default 30, or ``--command-timeout``). The task fails when the exit code
    is not in ``ok_rcs`` (default ``[0]``), or when ``failed_when`` (an expression that may use ``rc``,
    ``stdout``, ``stderr``, ``stdout_lines``) is true; ``failed_when`` replaces the ``ok_rcs`` test.

    Example::

        - name: Kernel version
          command: uname -r
          register: kernel

        - name: Locked and swapped memory of the busiest process
          command:
            cmd: "grep -E 'VmLck|VmSwap' /proc/{{ s.processes[0].pid | quote }}/status"
            ok_rcs: [0, 1]          # grep finds nothing: not a failure
          register: limits
    """

    name: ClassVar[str] = "command"
    free_form: ClassVar[str | None] = "cmd"
    args: ClassVar[dict[str, Arg]] = {
        "cmd": Arg(required=True, help="the command line, e.g. cmd: cat /proc/loadavg"),
        "ok_rcs": Arg(default=[0], check=list_check(number_check(0, 255, integer=True))),
        "failed_when": Arg(kind="expression"),
        "timeout_s": Arg(default=30, check=number_check(0, MAX_INTERVAL_S, above=True)),
    }

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        cmd = str(args["cmd"])
        timeout_s = as_float(args["timeout_s"], "timeout_s") or 30.0
        result = ctx.transport().run(cmd, timeout_s=ctx.command_timeout(timeout_s))
        out = {
            "cmd": cmd,
            "rc": result.exit_code,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "stdout_lines": result.stdout.splitlines(),
            "stderr_lines": result.stderr.splitlines(),
        }
        if args.get("failed_when") is not None:
            failed = _all(ctx, args["failed_when"], out)
        else:
            ok_rcs = args["ok_rcs"] if isinstance(args["ok_rcs"], list) else [args["ok_rcs"]]
            failed = result.exit_code not in [int(rc) for rc in ok_rcs]
        if failed:
            tail = result.stderr_tail(3) or "(no stderr)"
            raise TaskFailed(f"{ctx.host}: command {cmd!r} exited {result.exit_code}: {tail}", out)
        return Outcome(out)


def _all(ctx: HostContext, conditions: Any, names: dict[str, Any]) -> bool:
    items = conditions if isinstance(conditions, list) else [conditions]
    return all(bool(ctx.value_of(item, **names)) for item in items)
