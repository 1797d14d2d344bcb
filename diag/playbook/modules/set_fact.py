"""The ``set_fact`` module: define host variables from templates, as Ansible's ``set_fact`` does.

In: any ``name: template`` pairs. Out: the rendered values, which also become variables of this host
for the rest of the run (above play, inventory and task vars; below ``-e``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from diag.playbook.modules.base import HostContext, Module, Outcome


class SetFactModule(Module):
    """Set host variables for later tasks; each value is a template (``"{{ expr }}"`` keeps its type).

    Example::

        - name: Processes over the per-process threshold
          set_fact:
            major_procs: "{{ s.processes | selectattr('majflt_per_s', '>=', 10) | list }}"
            busiest: "{{ s.processes[0].comm if s.processes else 'none' }}"
    """

    name: ClassVar[str] = "set_fact"
    any_args: ClassVar[bool] = True

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        return Outcome({"ansible_facts": dict(args)}, facts=dict(args))
