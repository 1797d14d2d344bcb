"""``- import_playbook: other.yml`` puts the other file's plays in place, in Ansible's shape, with
file:line for each problem and import cycles refused; audit.yml reuses triage.yml this way."""

from __future__ import annotations

from pathlib import Path

import pytest

from diag.playbook.validate import load_playbook
from diag.shared.errors import PlaybookError
from tests.playbook.helpers import run_on_localhost, write_playbook

REPO = Path(__file__).resolve().parents[2]


def test_imported_plays_come_in_place_with_their_own_file_and_lines(tmp_path):
    write_playbook(tmp_path, "- hosts: all\n  tasks:\n    - debug: msg=inner\n", name="inner.yml")
    path = write_playbook(
        tmp_path,
        """
        - hosts: all
          tasks:
            - debug: msg=first
        - import_playbook: inner.yml
          vars: {who: outer}
        - hosts: all
          tasks:
            - debug: msg=last
        """,
    )
    plays = load_playbook(path).plays
    assert [p.tasks[0].args["msg"] for p in plays] == ["msg=first", "msg=inner", "msg=last"]
    assert plays[1].file == str(tmp_path / "inner.yml") and plays[1].tasks[0].line == 3
    assert plays[1].vars == {"who": "outer"}


def test_registered_values_of_an_imported_play_reach_the_next_play(tmp_path):
    write_playbook(
        tmp_path, "- hosts: all\n  tasks:\n    - command: echo 42\n      register: out\n", name="inner.yml"
    )
    result, _ = run_on_localhost(
        tmp_path,
        """
        - import_playbook: inner.yml
        - hosts: all
          tasks:
            - check: {id: answer, value: "{{ out.stdout | int }}", op: "==", threshold: 42}
        """,
    )
    assert [(f.check, f.status) for f in result.findings] == [("answer", "fail")]


def test_a_missing_imported_playbook_names_the_importing_line(tmp_path):
    path = write_playbook(tmp_path, "- hosts: all\n  tasks: []\n- import_playbook: nowhere.yml\n")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    assert "nowhere.yml" in caught.value.render() and f"{path}:3" in caught.value.render()


def test_an_import_cycle_is_refused_with_the_chain(tmp_path):
    write_playbook(tmp_path, "- import_playbook: a.yml\n", name="b.yml")
    path = write_playbook(tmp_path, "- hosts: all\n  tasks: []\n- import_playbook: b.yml\n", name="a.yml")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    text = caught.value.render()
    assert "cycle: a.yml -> b.yml -> a.yml" in text and f"{tmp_path / 'b.yml'}:1" in text


def test_problems_inside_an_imported_playbook_carry_its_file_and_line(tmp_path):
    write_playbook(tmp_path, "- hosts: all\n  tasks:\n    - nosuchmodule: {}\n", name="inner.yml")
    path = write_playbook(tmp_path, "- import_playbook: inner.yml\n  tags: [x]\n")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    text = caught.value.render()
    assert f"{tmp_path / 'inner.yml'}:3" in text and "unknown module 'nosuchmodule'" in text
    assert f"{path}:2" in text and "unknown key 'tags'" in text


def test_audit_yml_reuses_triage_yml_instead_of_copying_it():
    audit = load_playbook(REPO / "playbooks" / "audit.yml")
    triage = load_playbook(REPO / "playbooks" / "triage.yml")
    assert audit.plays[0].tasks == triage.plays[0].tasks
    assert audit.plays[0].vars == {**triage.plays[0].vars, "locked_min_kib": 1024}
    assert audit.plays[1].file.endswith("audit-checks.yml")
    text = (REPO / "playbooks" / "audit.yml").read_text()
    assert "sample:" not in text and "verdict:" not in text
