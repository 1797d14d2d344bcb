"""The YAML loader keeps line numbers and turns YAML errors into PlaybookError with file:line."""

from __future__ import annotations

import pytest

from diag.playbook.language.loader import MarkedList, MarkedMap, load_yaml_text
from diag.shared.errors import PlaybookError


def test_loader_records_the_line_of_each_mapping_key_and_list_item():
    data = load_yaml_text(
        "- name: p\n  hosts: all\n  tasks:\n    - debug: msg=a\n    - debug: msg=b\n", "pb.yml"
    )
    play = data[0]
    assert isinstance(play, MarkedMap)
    assert play.line == 1
    assert play.line_of("tasks") == 3
    assert isinstance(play["tasks"], MarkedList)
    assert play["tasks"].item_lines == [4, 5]
    assert play["tasks"][1].line == 5


def test_loader_still_builds_plain_python_values():
    data = load_yaml_text("a: 1\nb: [1.5, true, null]\nc: {d: x}\n", "v.yml")
    assert data == {"a": 1, "b": [1.5, True, None], "c": {"d": "x"}}


def test_yaml_syntax_error_names_file_line_and_column():
    with pytest.raises(PlaybookError) as caught:
        load_yaml_text("- name: p\n  tasks: [a\n  hosts: all\n", "broken.yml")
    assert caught.value.where is not None
    assert caught.value.where.startswith("broken.yml:3")
    assert "YAML syntax error" in caught.value.message


def test_duplicate_keys_are_an_error_naming_both_lines():
    with pytest.raises(PlaybookError) as caught:
        load_yaml_text("a: 1\nb: 2\na: 3\n", "dup.yml")
    assert caught.value.where == "dup.yml:3"
    assert "first at line 1" in caught.value.message


def test_unquoted_template_at_start_of_value_gets_a_quoting_hint():
    with pytest.raises(PlaybookError) as caught:
        load_yaml_text("a: {{ b }} c\n", "t.yml")
    assert caught.value.where is not None and caught.value.where.startswith("t.yml:1")
