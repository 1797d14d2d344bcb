"""verdict builds culprits from process dicts; suggest applies only to its verdict; set_fact keeps types."""

from __future__ import annotations

from tests.playbook.helpers import run_on_localhost

PROCS = """
- hosts: all
  vars:
    procs:
      - {pid: 42, comm: "web (worker)", minflt_per_s: 1500.5, majflt_per_s: null, swap_kib: 12, cgroup: /a}
  tasks:
    - verdict:
        code: minor-storm
        severity: warning
        summary: "{{ procs | length }} process"
        culprits: procs
    - suggest:
        for: minor-storm
        title: Prefault
        text: "pid {{ procs[0].pid }}"
        commands: ["perf stat -p 42"]
    - suggest: {for: major-swap, title: Never}
"""


def test_verdict_culprits_come_from_process_dicts(tmp_path):
    result, _ = run_on_localhost(tmp_path, PROCS)
    assert result.verdict is not None
    [culprit] = result.verdict.culprits
    assert (culprit.pid, culprit.comm, culprit.minflt_per_s, culprit.majflt_per_s) == (
        42,
        "web (worker)",
        1500.5,
        0.0,
    )
    assert (culprit.swap_kib, culprit.rss_kib, culprit.cgroup) == (12, None, "/a")


def test_suggest_applies_only_to_its_verdict(tmp_path):
    result, _ = run_on_localhost(tmp_path, PROCS)
    [remediation] = result.remediation
    assert (remediation.title, remediation.text, remediation.commands) == (
        "Prefault",
        "pid 42",
        ("perf stat -p 42",),
    )
    assert remediation.verdict == "minor-storm"
    assert result.task_stats["skipped"] == 1


def test_culprit_without_pid_fails_the_task(tmp_path):
    result, _ = run_on_localhost(
        tmp_path, '- hosts: all\n  tasks:\n    - verdict: {code: ok, culprits: \'[{"comm": "x"}]\'}\n'
    )
    assert result.status == "failed" and "lacks pid" in (result.reason or "")


def test_set_fact_keeps_native_types_for_later_expressions(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - set_fact: {n: "{{ 40 + 2 }}", xs: "{{ [1, 2, 3] }}"}
            - verdict: {code: ok, summary: "{{ n + xs | sum }}"}
        """,
    )
    assert result.verdict is not None and result.verdict.summary == "48"


def test_debug_prints_with_verbose(tmp_path):
    _, lines = run_on_localhost(
        tmp_path,
        "- hosts: all\n  vars: {a: 5}\n  tasks:\n    - debug: {msg: 'a is {{ a }}'}\n    - debug: {var: a}\n",
    )
    assert "ok: [localhost] debug => a is 5" in lines
    assert "ok: [localhost] debug => {'a': 5}" in lines
