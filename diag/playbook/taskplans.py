"""Task plans: what a task does the same way on every host, worked out once per run.

In: a validated ``Task``. Out: a ``TaskPlan``: its module (modules keep no state, so one instance
serves every host), its arguments in the task's order with whether each is rendered per host (a
template, a list or a mapping) or is the same literal everywhere, the spec defaults it leaves unset,
and the argument checks still to run per host (a literal's check is run here, once). A host then
renders only what can differ between hosts: a triage host has ~26 tasks, and before plans each one
instantiated its module, walked its specs and re-checked its literal arguments on every host.

>>> plan = plan_task(Task("t", "sample", {"interval_s": "{{ n }}", "perf": False}, "p.yml", 3))
>>> plan.args, plan.defaults
((('interval_s', '{{ n }}', True), ('perf', False, False)), (('top_n', 20), ('locked_min_kib', 0)))
>>> [key for key, spec, _ in plan.checks if spec is not None]
['interval_s']
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from diag.playbook.language.expressions import is_template
from diag.playbook.language.model import Task
from diag.playbook.modules import MODULES
from diag.playbook.modules.base import Arg, HostContext, Module, TaskFailed, arg_problem

# the values a task may hold that rendering returns as they are: kept literally, never rendered
_LITERAL_TYPES = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """One task, ready to run on any host.

    ``args``: (key, value, rendered per host) in the task's order; ``defaults``: (key, default) for
    the spec's arguments the task leaves unset; ``literals``: the arguments that are the same on
    every host; ``checks``: in spec order, (key, spec, known problem): a known problem (a literal's,
    found once) fails every host, a spec is checked against the host's rendered value.
    """

    module: Module
    args: tuple[tuple[str, Any, bool], ...]
    defaults: tuple[tuple[str, Any], ...]
    literals: Mapping[str, Any]
    checks: tuple[tuple[str, Arg | None, str | None], ...]

    def args_for(self, ctx: HostContext) -> dict[str, Any]:
        """The task's arguments on ``ctx``'s host: templates rendered, defaults filled in and every
        checked argument checked (``TaskFailed`` names the first refused, as before any plan)."""
        args = {key: ctx.render(value) if per_host else value for key, value, per_host in self.args}
        args.update(self.defaults)
        for key, spec, known in self.checks:
            problem = known if spec is None else arg_problem(spec, args.get(key))
            if problem:  # what templating produced, checked as literals are
                raise TaskFailed(f"argument {key} {problem}")
        return args


def _rendered(kind: str | None, value: Any) -> bool:
    """Whether the engine renders this value on each host: a ``template`` argument (or one a module
    does not declare) unless it is a plain literal, which rendering would return unchanged."""
    if kind is not None and kind != "template":
        return False
    return type(value) not in _LITERAL_TYPES or is_template(value)


def plan_task(task: Task) -> TaskPlan:
    """The plan of ``task``; its module must exist (the validator has checked it)."""
    module = MODULES[task.module]()
    specs = module.args
    args = []
    for key, value in task.args.items():
        spec = specs.get(key)
        args.append((key, value, _rendered(None if spec is None else spec.kind, value)))
    defaults = tuple((k, s.default) for k, s in specs.items() if k not in task.args and s.default is not None)
    rendered = {key for key, _, per_host in args if per_host}
    literals = {key: value for key, value, per_host in args if not per_host}
    known = dict(defaults) | literals
    checks: list[tuple[str, Arg | None, str | None]] = []
    for key, spec in specs.items():
        if spec.check is None or spec.kind != "template":
            continue
        if key in rendered:
            checks.append((key, spec, None))
            continue
        problem = arg_problem(spec, known.get(key))
        if problem:
            checks.append((key, None, problem))
    return TaskPlan(module, tuple(args), defaults, literals, tuple(checks))


class TaskPlans:
    """A run's task plans, one per task, built by the first host that runs the task.

    Keyed by the task object (a run's playbook lives as long as the run), and shared by every host
    thread: two hosts building one plan at once build equal plans, and either is kept.
    """

    def __init__(self) -> None:
        self._plans: dict[int, tuple[Task, TaskPlan]] = {}
        self._lock = threading.Lock()

    def of(self, task: Task) -> TaskPlan:
        found = self._plans.get(id(task))
        if found is not None and found[0] is task:
            return found[1]
        plan = plan_task(task)
        with self._lock:
            self._plans[id(task)] = (task, plan)
        return plan
