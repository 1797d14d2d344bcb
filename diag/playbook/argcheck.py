"""``-e`` values checked against the module argument specs before any host is contacted.

In: a validated ``Playbook`` and the parsed ``-e`` vars. Out: nothing, or a ``UsageError`` (exit 5).
``-e`` outranks every other variable, so an argument template that renders from ``-e`` values alone
(``top_n: "{{ top_n }}"`` with ``-e top_n=0``) has that value on every host: a value its spec refuses
would fail every host at run time, so it is refused now. Templates that need host data are left to
the run-time check. ``interval_s`` is also checked as a variable, since ``sample`` reads it directly.

>>> from diag.playbook.language.model import Play, Playbook, Task
>>> task = Task("s", "sample", {"top_n": "{{ top_n }}"}, "pb.yml", 3)
>>> book = Playbook(Path("pb.yml"), (Play("p", "all", "pb.yml", 1, {}, {}, (task,)),))
>>> check_extra_var_args(book, {"top_n": 5})
>>> check_extra_var_args(book, {"top_n": 0})
Traceback (most recent call last):
...
diag.shared.errors.UsageError: pb.yml:3: task 's': top_n=0 (from -e) must be a whole number from 1 to 10000, got 0
"""  # noqa: E501 (a doctest: the exception line is printed whole)

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path  # noqa: F401  (the doctest's Playbook path)
from typing import Any

from diag.playbook.language.expressions import Templar, is_template, lazy_vars
from diag.playbook.language.model import Playbook
from diag.playbook.modules import MODULES
from diag.shared.errors import UsageError
from diag.shared.limits import check_interval


def check_extra_var_args(playbook: Playbook, extra_vars: Mapping[str, Any]) -> None:
    """Refuse ``-e`` values that give a module argument a value its spec rejects (see module doc)."""
    if "interval_s" in extra_vars:
        check_interval(extra_vars["interval_s"], "-e interval_s")
    if not extra_vars:
        return
    templar = Templar()
    scope = lazy_vars(extra_vars)
    for play in playbook.plays:
        for task in play.tasks:
            specs = MODULES[task.module].args
            for key, value in task.args.items():
                spec = specs.get(key)
                if spec is None or spec.check is None or spec.kind != "template" or not is_template(value):
                    continue
                try:
                    rendered = templar.render(value, scope)
                except Exception:  # needs host vars or registered results: checked when it runs
                    continue
                problem = None if rendered is None else spec.check(rendered)
                if problem:
                    raise UsageError(
                        f"task {task.name!r}: {key}={rendered!r} (from -e) {problem}",
                        where=task.where,
                    )
