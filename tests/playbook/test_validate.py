"""Validation checks the whole playbook before anything runs; each problem has file:line and a hint."""

from __future__ import annotations

import pytest

from diag.playbook.validate import load_playbook
from diag.shared.errors import PlaybookError
from tests.playbook.helpers import write_playbook


def problem(tmp_path, text: str) -> PlaybookError:
    path = write_playbook(tmp_path, text)
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    return caught.value


def test_valid_playbook_keeps_each_tasks_line_and_keywords(tmp_path):
    path = write_playbook(
        tmp_path,
        """
        - name: demo
          hosts: all
          vars: {limit: 3}
          tasks:
            - name: say hello
              command: echo hello
              register: out
              tags: [a, b]
            - debug: msg=x
              when: out.rc == 0
              ignore_errors: true
        """,
    )
    play = load_playbook(path).plays[0]
    assert play.vars == {"limit": 3}
    first, second = play.tasks
    assert (first.name, first.module, first.line, first.register, first.tags) == (
        "say hello",
        "command",
        5,
        "out",
        ("a", "b"),
    )
    assert first.args == {"cmd": "echo hello"}
    assert (second.name, second.when, second.ignore_errors, second.line) == (
        "debug",
        ("out.rc == 0",),
        True,
        9,
    )


def test_unknown_module_lists_the_known_modules(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - name: t\n      shel: ls\n")
    assert err.where == f"{tmp_path / 'pb.yml'}:4"
    assert "unknown module 'shel'" in err.message
    assert err.hint is not None and "command" in err.hint and "check" in err.hint


def test_unknown_task_key_lists_the_allowed_keys(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - name: t\n      command: ls\n      loop: [1]\n")
    assert err.where == f"{tmp_path / 'pb.yml'}:5"
    assert "task 't': unknown key 'loop'" in err.message
    assert err.hint is not None and "register" in err.hint and "when" in err.hint


def test_unknown_module_argument_lists_the_allowed_arguments(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - check: {id: x, that: 'true', sevrity: info}\n")
    assert "unknown argument 'sevrity'" in err.message
    assert err.hint is not None and "severity" in err.hint


def test_when_that_does_not_parse_quotes_the_expression_and_jinjas_message(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - name: t\n      debug: msg=x\n      when: a >\n")
    assert err.where == f"{tmp_path / 'pb.yml'}:5"
    assert "'a >' does not parse" in err.message
    assert "unexpected" in err.message


def test_when_with_braces_asks_for_a_bare_expression(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - debug: msg=x\n      when: '{{ a }}'\n")
    assert err.hint is not None and "without {{ }}" in err.hint


def test_template_argument_that_does_not_parse_is_reported(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - debug:\n        msg: '{{ a + }}'\n")
    assert "template '{{ a + }}' does not parse" in err.message


def test_missing_vars_file_names_the_line_that_references_it(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  vars_files:\n    - nothere.yml\n  tasks: []\n")
    assert err.where == f"{tmp_path / 'pb.yml'}:3"
    assert "vars file" in err.message and "nothere.yml" in err.message and "not found" in err.message


def test_vars_files_are_read_relative_to_the_playbook(tmp_path):
    (tmp_path / "limits.yml").write_text("limit: 9\n")
    path = write_playbook(tmp_path, "- hosts: all\n  vars_files: [limits.yml]\n  tasks: []\n")
    assert load_playbook(path).plays[0].vars_files_vars == {"limit": 9}


def test_every_problem_is_reported_at_once(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - nope: 1\n    - debug: msg=x\n      when: 'a >'\n")
    assert "2 problems" in err.message
    assert ":3:" in err.message and ":5:" in err.message


def test_check_needs_value_or_that(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - check: {id: x}\n")
    assert "either 'value'" in err.message


def test_verdict_code_must_be_a_known_code(tmp_path):
    err = problem(tmp_path, "- hosts: all\n  tasks:\n    - verdict: {code: bad, summary: x}\n")
    assert "code='bad' is not allowed" in err.message
    assert err.hint is not None and "minor-storm" in err.hint


def test_play_without_hosts_and_unknown_play_key_are_errors(tmp_path):
    err = problem(tmp_path, "- name: p\n  roles: [x]\n  tasks: []\n")
    assert "unknown key 'roles'" in err.message
    assert "has no 'hosts'" in err.message


def test_gather_facts_is_accepted_and_ignored(tmp_path):
    path = write_playbook(tmp_path, "- hosts: all\n  gather_facts: false\n  tasks: []\n")
    assert load_playbook(path).plays[0].tasks == ()


def test_the_shipped_triage_playbook_is_valid():
    from diag.playbook.resolve import resolve_playbook

    playbook = load_playbook(resolve_playbook("triage"))
    assert any(task.module == "verdict" for task in playbook.plays[0].tasks)
