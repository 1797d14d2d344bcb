"""Task plans: a task's literal work is done once per run, and no host ever sees another host's values."""

from __future__ import annotations

from pathlib import Path

import pytest

from diag.inventory import Host
from diag.playbook.engine import Engine, EngineOptions
from diag.playbook.language.model import Play, Task
from diag.playbook.modules.base import TaskFailed
from diag.playbook.taskplans import TaskPlans, plan_task
from diag.playbook.validate import load_playbook
from diag.shared.limits import MAX_TOP_N
from tests.playbook.helpers import run_on_localhost, write_playbook


def _hosts(n: int) -> list[Host]:
    return [Host(f"h{i}", {"ansible_connection": "local", "host_n": i}, ()) for i in range(n)]


def test_hosts_sharing_a_task_plan_each_get_their_own_values_and_their_own_lists(tmp_path: Path) -> None:
    playbook = load_playbook(
        write_playbook(
            tmp_path,
            """
            - hosts: all
              tasks:
                - name: a literal list and a templated value
                  set_fact:
                    seen: [0]
                    mine: "{{ host_n * 10 }}"
                - name: each host appends to its list (the sandbox lets a template change a list)
                  set_fact:
                    grown: "{{ seen.append(host_n) or seen }}"
                - name: verdict
                  verdict:
                    code: ok
                    severity: ok
                    summary: "{{ grown }} {{ mine }} {{ inventory_hostname }}"
            """,
        )
    )
    engine = Engine(EngineOptions(forks=1))
    results = engine.run([(host, list(playbook.plays)) for host in _hosts(3)])
    assert [r.verdict.summary for r in results if r.verdict] == [
        "[0, 0] 0 h0",
        "[0, 1] 10 h1",
        "[0, 2] 20 h2",
    ]


def test_a_task_plan_is_built_once_per_run_and_keeps_literals_out_of_rendering() -> None:
    task = Task("t", "check", {"id": "x", "value": "a.b", "op": ">=", "threshold": "{{ t }}"}, "p.yml", 1)
    plans = TaskPlans()
    plan = plans.of(task)
    assert plans.of(task) is plan
    assert dict((k, rendered) for k, _, rendered in plan.args) == {
        "id": False,
        "value": False,
        "op": False,
        "threshold": True,
    }
    assert ("severity", "warning") in plan.defaults and ("evidence", {}) in plan.defaults
    assert [key for key, spec, _ in plan.checks if spec is not None] == ["threshold"]
    assert plans.of(Task("t", "check", dict(task.args), "p.yml", 1)) is not plan  # an equal task is another


def test_a_literal_argument_a_check_refuses_fails_every_host_with_the_argument_named(tmp_path: Path) -> None:
    # the validator refuses such a literal at load time; a plan still words it as the engine always did
    plan = plan_task(Task("s", "sample", {"top_n": 0, "interval_s": "{{ n }}"}, "p.yml", 4))
    assert plan.checks == (("interval_s", plan.checks[0][1], None), ("top_n", None, plan.checks[1][2]))
    task = Task("s", "sample", {"top_n": 0}, "p.yml", 4)
    engine = Engine(EngineOptions(forks=1))
    results = engine.run([(host, [Play("p", "all", "p.yml", 1, tasks=(task,))]) for host in _hosts(2)])
    for result in results:
        assert result.status == "failed"
        assert result.reason == (
            f"p.yml:4: task 's': argument top_n must be a whole number from 1 to {MAX_TOP_N}, got 0"
        )
    with pytest.raises(TaskFailed, match="argument top_n must be"):
        plan_task(task).args_for(None)  # type: ignore[arg-type]  # no argument to render


def test_a_suggestion_for_another_verdict_is_skipped_before_its_text_is_rendered(tmp_path: Path) -> None:
    result, lines = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          vars:
            wanted: ok
          tasks:
            - name: verdict
              verdict: {code: ok, severity: ok, summary: quiet}
            - name: for another verdict (its text reads what this host never set)
              suggest:
                for: major-swap
                title: t
                text: "{{ s.rates.swapin_per_s }}"
            - name: for this verdict, named by a template
              suggest:
                for: "{{ wanted }}"
                title: applies
                text: "{{ wanted }} here"
            - name: for another verdict, named by a template
              suggest:
                for: "{{ 'minor-storm' }}"
                title: skipped
        """,
    )
    assert result.status == "ok"
    assert [(r.title, r.text) for r in result.remediation] == [("applies", "ok here")]
    assert result.task_stats == {"ok": 2, "failed": 0, "skipped": 2, "ignored": 0}
    assert any("suggestion is for verdict major-swap, host verdict is ok" in line for line in lines)
    assert any("suggestion is for verdict minor-storm, host verdict is ok" in line for line in lines)
