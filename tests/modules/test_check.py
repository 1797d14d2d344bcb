"""The check module: value/op/threshold and that-forms, skip with a reason, registered results."""

from __future__ import annotations

from tests.playbook.helpers import run_on_localhost


def test_condition_that_holds_is_a_fail_finding_not_a_task_failure(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          vars: {rate: 250.5, limit: 100}
          tasks:
            - name: major rate
              check:
                id: major-rate
                value: rate
                op: ">="
                threshold: "{{ limit }}"
                severity: critical
                message: "{{ value }} >= {{ threshold }}"
                evidence: {doubled: "{{ value * 2 }}", name: "{{ inventory_hostname }}"}
              register: major
            - verdict: {code: ok, summary: "{{ major.failed }} {{ major.status }}"}
        """,
    )
    assert result.status == "ok"
    [finding] = result.findings
    assert (finding.check, finding.task, finding.status, finding.severity) == (
        "major-rate",
        "major rate",
        "fail",
        "critical",
    )
    assert (finding.value, finding.op, finding.threshold) == (250.5, ">=", 100.0)
    assert finding.message == "250.5 >= 100.0"
    assert dict(finding.evidence) == {"doubled": 501.0, "name": "localhost"}
    assert result.verdict is not None and result.verdict.summary == "True fail"


def test_condition_that_does_not_hold_passes(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        "- hosts: all\n  tasks:\n    - check: {id: c, value: '{{ 3 }}', op: '<', threshold: 2}\n",
    )
    [finding] = result.findings
    assert finding.status == "pass"
    assert finding.message == "c: 3 not < 2"


def test_none_value_is_a_skip_with_the_not_evaluable_reason(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          vars:
            psi_pct: null
            not_evaluable: {psi: "/proc/pressure/memory absent"}
          tasks:
            - check: {id: psi, value: psi_pct, op: ">", threshold: 5, not_evaluable_key: psi}
              register: psi
            - check: {id: other, value: psi_pct, op: ">", threshold: 5, skip_reason: "no data for {{ op }}"}
        """,
    )
    first, second = result.findings
    assert (first.status, first.reason) == ("skip", "/proc/pressure/memory absent")
    assert (second.status, second.reason) == ("skip", "no data for >")
    assert result.status == "ok"


def test_that_form_with_a_list_needs_every_condition(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          vars: {a: 1, b: 2}
          tasks:
            - check: {id: both, that: [a == 1, b == 2], severity: info}
            - check: {id: one, that: [a == 1, b == 3]}
        """,
    )
    assert [(f.check, f.status) for f in result.findings] == [("both", "fail"), ("one", "pass")]


def test_non_numeric_value_fails_the_task(tmp_path):
    result, _ = run_on_localhost(
        tmp_path, "- hosts: all\n  tasks:\n    - check: {id: c, value: \"'abc'\", op: '>', threshold: 1}\n"
    )
    assert result.status == "failed"
    assert "must be a number" in (result.reason or "")
