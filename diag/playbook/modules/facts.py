"""The ``facts`` module: read the host's static facts (kernel, CPUs, THP, swappiness, perf...).

In: no arguments. Out: ``read_facts()`` of the facts command's output, registered, as the host's
facts (``HostResult.facts``) and as the variable ``facts``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from diag.playbook.modules.base import Arg, HostContext, Module, Outcome, TaskFailed
from diag.shared.errors import ParseError
from diag.shared.records import to_data

FACTS_TIMEOUT_S = 30.0


class FactsModule(Module):
    """Collect host facts without sampling: hostname, kernel, cpus, page size, memory and swap totals,
    THP settings, swappiness, NUMA balancing, zswap, hidepid, perf usability, cgroup version.

    Useful for an inventory-wide overview, or before ``sample`` to choose what to check. The facts are
    also available as the variable ``facts`` to later tasks.

    Example::

        - name: What kind of host is this?
          facts:
          register: f
        - debug:
            msg: "{{ facts.kernel }} with THP {{ facts.thp_enabled }}"
    """

    name: ClassVar[str] = "facts"
    args: ClassVar[dict[str, Arg]] = {}

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        from diag.probe import facts_command, read_facts

        command = facts_command()
        result = ctx.transport().run(command, timeout_s=ctx.command_timeout(FACTS_TIMEOUT_S))
        if result.exit_code != 0:
            tail = result.stderr_tail() or "(no stderr)"
            raise TaskFailed(f"{ctx.host}: facts command exited {result.exit_code}: {tail}")
        try:
            parsed = read_facts(result.stdout)
        except ParseError as exc:
            raise TaskFailed(f"{ctx.host}: facts output not understood: {exc.render()}") from None
        facts: dict[str, Any] = to_data(parsed)
        return Outcome(facts, facts={"facts": facts}, host_facts=parsed)
