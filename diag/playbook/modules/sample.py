"""The ``sample`` module: run the probe on the host over an interval and register the parsed sample.

In: ``interval_s`` (default: the ``interval_s`` variable, else 5), ``top_n`` (20), ``perf`` (true),
``locked_min_kib`` (0: off). Out: the ``HostSample`` view registered (rates, psi, memory, processes,
facts, perf, buddyinfo, numa, locked_processes, not_evaluable; see the README); and a
``Measurement`` (the ``HostSample`` record and the probe's raw stdout, kept in hosts.jsonl so a run can
be re-parsed later) that the engine stores on the host's result.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from diag.playbook.modules.base import (
    Arg,
    HostContext,
    Measurement,
    Module,
    Outcome,
    TaskFailed,
    as_float,
    number_check,
)
from diag.shared.errors import ParseError
from diag.shared.limits import MAX_INTERVAL_S, MAX_TOP_N, MIN_INTERVAL_S

# The probe sleeps interval_s between its two reads; allow this much for start-up, perf and the wire.
TIMEOUT_MARGIN_S = 15.0


@cache
def controller_boot_id() -> str | None:
    """This machine's boot id: the probe compares it to leave the controller out on its own host."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _bool_check(value: Any) -> str | None:
    return None if isinstance(value, bool | str) else f"must be true or false, got {value!r}"


def to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y")
    return bool(value)


class SampleModule(Module):
    """Measure page-fault activity on the host: the probe reads the kernel counters, waits ``interval_s``
    seconds, reads them again and reports per-second rates, PSI, memory, swap and the ``top_n``
    faulting processes (``perf`` adds ``perf stat`` software counters when perf is usable).

    The whole result is registered; the host's result also records it (typed), the facts and the raw
    probe output. ``locked_min_kib: N`` (> 0) also registers ``locked_processes``: every process with
    VmLck or VmPin of at least N KiB. The variable ``not_evaluable`` (signal -> reason) is set too, so
    ``check``'s ``not_evaluable_key`` can explain skips. A probe that exits non-zero or prints what the
    parser does not understand fails the task (host, command, exit code and end of stderr).

    Example::

        - name: Sample fault counters twice over the interval
          sample:
            interval_s: "{{ interval_s }}"
            top_n: 20
          register: s
    """

    name: ClassVar[str] = "sample"
    args: ClassVar[dict[str, Arg]] = {
        "interval_s": Arg(check=number_check(MIN_INTERVAL_S, MAX_INTERVAL_S)),
        "top_n": Arg(default=20, check=number_check(1, MAX_TOP_N, integer=True)),
        "perf": Arg(default=True, check=_bool_check),
        "locked_min_kib": Arg(default=0, check=number_check(0, integer=True)),
    }

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        from diag.probe import parse_probe, probe_command

        interval = args.get("interval_s")
        if interval is None:
            interval = ctx.evaluate("interval_s") if "interval_s" in ctx.variables else 5
        problem = self.args["interval_s"].check(interval)  # type: ignore[misc]
        if problem:  # the `interval_s` variable, when the argument is not given
            raise TaskFailed(f"interval_s {problem}")
        interval_s = as_float(interval, "interval_s") or 5.0
        top_n = int(as_float(args["top_n"], "top_n") or 20)
        transport = ctx.transport()
        boot_id = controller_boot_id()
        command = probe_command(
            interval_s=interval_s,
            top_n=top_n,
            perf=to_bool(args["perf"]),
            # on its own host, the controller is not a culprit (the probe leaves itself out too);
            # over SSH the probe leaves it out only where the boot id is this machine's
            exclude_pid=os.getpid() if transport.local or boot_id else None,
            exclude_boot_id=None if transport.local else boot_id,
            locked_min_kib=int(as_float(args["locked_min_kib"], "locked_min_kib") or 0),
            # where the host's container runtimes keep their bundles: / unless a test or chroot says
            oci_root=str(ctx.variables.get("pfdiag_oci_root") or "/"),
        )
        result = transport.run(command, timeout_s=ctx.command_timeout(interval_s + TIMEOUT_MARGIN_S))
        raw = result.stdout
        if result.exit_code != 0:
            tail = result.stderr_tail() or "(no stderr)"
            raise TaskFailed(f"{ctx.host}: probe (sample) exited {result.exit_code}: {tail}", raw=raw)
        try:
            sample = parse_probe(result.stdout)
        except ParseError as exc:
            tail = result.stderr_tail(3)
            raise TaskFailed(
                f"{ctx.host}: probe (sample) output not understood: {exc.render()}"
                + (f"; stderr: {tail}" if tail else ""),
                raw=raw,
            ) from None
        data: dict[str, Any] = sample.view()
        return Outcome(
            data,
            facts={"not_evaluable": dict(sample.not_evaluable)},
            host_facts=sample.facts,
            measurement=Measurement(sample, raw),
        )
