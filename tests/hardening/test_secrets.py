"""No secret in any byte pfdiag writes or prints (issue 8, section 5).

Secrets are planted under secret names, as strings, lists and nested mappings, in every place a value can
come from: ``-e k=v``, ``-e`` JSON, ``-e @file``, an INI host var, inventory group vars, ``group_vars/``,
``host_vars/``, play vars, ``vars_files``, task vars; the playbook templates them into messages and a
debug line. Every byte of stdout, stderr (``-vvv``) and every file of the run folder, ``--json`` and
``--csv`` is then searched for each secret.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diag.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
SECRETS = {f"SEKRIT{n:02d}" for n in range(1, 20)}

PLAYBOOK = """
- name: leaky
  hosts: all
  vars:
    play_token: SEKRIT01
    play_tokens: {inner: {deep: SEKRIT02}}
    list_token: [SEKRIT03, {nested_secret: SEKRIT04}]
  vars_files: [secret_vars.yml]
  tasks:
    - name: say everything
      debug:
        msg: "{{ play_token }} {{ play_tokens }} {{ list_token }} {{ file_secret }} {{ ev_token }}"
    - name: dump a var
      debug:
        var: inv_tokens
    - name: task vars
      vars: {task_password: [SEKRIT05]}
      debug:
        msg: "{{ task_password }} {{ hv_secret }} {{ gv_token }} {{ ini_password }} {{ json_token }}"
    - name: a check message
      check:
        id: leak
        value: "1"
        op: ">"
        threshold: 0
        message: "{{ at_token }} {{ extra_token }}"
    - name: verdict
      verdict: {code: ok, severity: ok, summary: "{{ play_tokens.inner.deep }} {{ at_token.x }}"}
"""


def _plant(tmp_path: Path) -> list[str]:
    (tmp_path / "leak.yml").write_text(PLAYBOOK)
    (tmp_path / "secret_vars.yml").write_text("file_secret: {a: [SEKRIT06]}\n")
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text(
        "all:\n  vars:\n    inv_tokens: {inner: {deep: [SEKRIT07]}}\n"
        "  hosts:\n    localhost:\n      ansible_connection: local\n      ini_password: SEKRIT08\n"
    )
    (tmp_path / "inv" / "group_vars").mkdir()
    (tmp_path / "inv" / "group_vars" / "all.yml").write_text("gv_token: [[SEKRIT09]]\n")
    (tmp_path / "inv" / "host_vars").mkdir()
    (tmp_path / "inv" / "host_vars" / "localhost.yml").write_text("hv_secret: {k: SEKRIT10}\n")
    (tmp_path / "at.yml").write_text("at_token: {x: SEKRIT11, y: [SEKRIT12]}\n")
    return [
        "run", "leak.yml", "-i", "inv", "-vvv", "-o", "run", "--json", "out.json", "--csv", "csv",
        "-e", "extra_token=SEKRIT13 ev_token=SEKRIT14",
        "-e", '{"json_token": {"deep": ["SEKRIT15"]}}',
        "-e", "@at.yml",
        "--extra-vars=db_password=SEKRIT16",
    ]  # fmt: skip


def _leaks(text: str) -> set[str]:
    return {s for s in SECRETS if s in text}


def test_no_planted_secret_reaches_any_output(tmp_path):
    argv = _plant(tmp_path)
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "diag", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "********" in proc.stdout + proc.stderr  # the secrets were there, masked
    assert not _leaks(proc.stdout + proc.stderr)
    written = [
        p
        for p in tmp_path.rglob("*")
        if (p.is_file() and p.parent.name in ("run", "csv")) or p.name == "out.json"
    ]
    assert len(written) >= 7
    for path in written:
        assert not _leaks(path.read_text(errors="replace")), path
    report = subprocess.run(
        [sys.executable, "-m", "diag", "report", "run", "--format", "json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0 and not _leaks(report.stdout + report.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "t.yml", "-e", "api_token: SEKRIT17: more", "--syntax-check"],
        ["run", "t.yml", "--extra", "api_token=SEKRIT17", "--syntax-check"],
        ["run", "t.yml", "-i", "bad.ini", "--list-hosts"],
        ["run", "broken.yml", "--syntax-check"],
        ["run", "t.yml", "-e", '{"api_token": "SEKRIT17", ', "--syntax-check"],
    ],
)
def test_secrets_quoted_back_in_parse_errors_are_masked(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yml").write_text("- hosts: all\n  tasks:\n    - command: 'true'\n")
    (tmp_path / "bad.ini").write_text('h1 ansible_password="SEKRIT17 interval_s=1\n')
    (tmp_path / "broken.yml").write_text(
        "- hosts: all\n  vars:\n    db_secret: \"{{ 'SEKRIT17' + }}\"\n  tasks:\n    - command: 'true'\n"
    )
    assert main(argv) in (4, 5)
    out = capsys.readouterr()
    assert out.err.startswith("ERROR:") and "SEKRIT17" not in out.out + out.err


def test_no_subcommand_accepts_abbreviated_options():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert parser.allow_abbrev is False
    assert all(sub.allow_abbrev is False for sub in subparsers.choices.values())  # type: ignore[attr-defined]


def test_run_json_argv_masks_every_form_of_extra_vars(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yml").write_text("- hosts: all\n  tasks:\n    - command: 'true'\n")
    argv = [
        "run",
        "t.yml",
        "-o",
        "run",
        "-eapi_token=SEKRIT18",
        "--extra-vars",
        '{"t": {"token": "SEKRIT19"}}',
    ]
    assert main(argv) == 0
    assert not _leaks((tmp_path / "run" / "run.json").read_text())
    assert not _leaks(json.dumps(json.loads((tmp_path / "run" / "hosts.jsonl").read_text())))
