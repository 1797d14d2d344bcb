"""Bad input is one clear error with where, never exit 250 (issue 8, section 2 and the YAML of section 4).

Circular aliases and "billion laughs" in every YAML pfdiag reads (``-e @file``, ``-e '{...}'``, inventory
vars, playbooks under ``--syntax-check``, vars files), ``ansible_group_priority=abc``, a long host list.
"""

from __future__ import annotations

import time

import pytest

from diag.cli import main

PLAY = """
- name: demo
  hosts: all
  tasks:
    - name: one command
      command: "echo hi"
"""
CIRCULAR = "a: &a [*a]\n"
CIRCULAR_MAP = "a: &a {b: *a}\n"
LAUGHS = "x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"x{n}: &x{n} [{', '.join([f'*x{n - 1}'] * 9)}]\n" for n in range(1, 10)
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pb.yml").write_text(PLAY)


def _run(capsys, *argv: str) -> tuple[int, str]:
    start = time.monotonic()
    code = main(list(argv))
    assert time.monotonic() - start < 30  # bounded: billion laughs took minutes before
    return code, capsys.readouterr().err


@pytest.mark.parametrize("text", [CIRCULAR, CIRCULAR_MAP, LAUGHS])
def test_self_referencing_or_exploding_extra_vars_files_are_usage_errors(tmp_path, capsys, text):
    (tmp_path / "vars.yml").write_text(text)
    code, err = _run(capsys, "run", "pb.yml", "-e", "@vars.yml", "--syntax-check")
    assert code == 5 and err.startswith("ERROR:") and "vars.yml" in err
    assert "circular" in err or "aliases are expanded" in err


def test_a_circular_inline_extra_var_is_a_usage_error(capsys):
    code, err = _run(capsys, "run", "pb.yml", "-e", "{a: &a [*a]}", "--syntax-check")
    assert code == 5 and "circular" in err


@pytest.mark.parametrize("text", [CIRCULAR, LAUGHS])
def test_syntax_check_catches_circular_and_exploding_playbooks(tmp_path, capsys, text):
    (tmp_path / "bad.yml").write_text(
        PLAY.rstrip() + "\n  vars:\n" + "".join("    " + ln + "\n" for ln in text.splitlines())
    )
    code, err = _run(capsys, "run", "bad.yml", "--syntax-check")
    assert code == 4 and "bad.yml:" in err


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("inv.yml", "all:\n  vars:\n    a: &a [*a]\n  hosts:\n    h1:\n"),
        (
            "inv.yml",
            "all:\n  vars:\n"
            + "".join("    " + ln + "\n" for ln in LAUGHS.splitlines())
            + "  hosts:\n    h1:\n",
        ),
        ("inv.ini", "[web]\nh1\n[web:vars]\nansible_group_priority=abc\n"),
        (
            "inv.yml",
            "all:\n  children:\n    web:\n      vars: {ansible_group_priority: abc}\n      hosts: {h1: }\n",
        ),
    ],
)
def test_bad_inventory_values_are_inventory_errors(tmp_path, capsys, name, text):
    (tmp_path / name).write_text(text)
    code, err = _run(capsys, "run", "pb.yml", "-i", name, "--list-hosts")
    assert code == 4 and err.startswith("ERROR:") and name in err


def test_circular_group_vars_file_says_its_line(tmp_path, capsys):
    (tmp_path / "inv.ini").write_text("[web]\nh1\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("x: 1\na: &a [*a]\n")
    code, err = _run(capsys, "run", "pb.yml", "-i", "inv.ini", "--list-hosts")
    assert code == 4 and "web.yml:2" in err and "circular" in err


def test_a_very_long_host_list_is_a_host_list_not_a_crash(capsys):
    hosts = ",".join(f"h{n}" for n in range(3000)) + ","
    code = main(["inventory", "-i", hosts, "--graph"])
    assert code == 0 and "h2999" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("ok: 1\n1: numeric key\n", 2, "not a valid identifier"),
        ("ok: 1\n[a, b]: 2\n", 2, "must be a scalar"),
        ('ok: 1\nbroken: "{{ x + }}"\n', 2, "does not parse"),
        ("ok: 1\ndb_token: \"{{ 'SEKRIT' + }}\"\n", 2, "does not parse"),
    ],
)
def test_vars_files_are_validated_with_their_own_lines(tmp_path, capsys, text, line, message):
    (tmp_path / "vars.yml").write_text(text)
    (tmp_path / "pb.yml").write_text(PLAY.replace("  tasks:", "  vars_files: [vars.yml]\n  tasks:"))
    code, err = _run(capsys, "run", "pb.yml", "--syntax-check")
    assert code == 4 and f"vars.yml:{line}" in err and message in err and "SEKRIT" not in err


def test_nan_threshold_from_extra_vars_never_writes_nan_into_json(tmp_path, capsys):
    (tmp_path / "pb.yml").write_text(
        "- hosts: all\n  tasks:\n    - check: {id: x, value: '1', op: '>', threshold: '{{ t }}'}\n"
        "      ignore_errors: true\n"
    )
    code, _ = _run(capsys, "run", "pb.yml", "-e", "t=.nan", "-o", "out", "--json", "out.json")
    assert code == 5  # refused before running: a NaN threshold compares false with everything
    from diag.shared.files import json_text

    assert json_text({"threshold": float("nan")}) == '{"threshold": null}'
