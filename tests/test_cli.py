"""`pfdiag` as a user runs it: main(argv) -> exit code, one-line errors, files in the run folder.

Playbooks are written to tmp_path and run on the implicit localhost (local transport, real subprocesses).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from diag.cli import main
from tests.fixtures.hosts_jsonl import read_host_lines

GOOD = """
- name: demo
  hosts: all
  vars: {limit: 10}
  tasks:
    - name: count to three
      command: "printf '1\\n2\\n3\\n'"
      register: out
      tags: [probe]
    - name: lines are few
      check:
        id: line-count
        value: out.stdout_lines | length
        op: ">="
        threshold: "{{ limit }}"
    - name: remember
      set_fact: {n: "{{ out.stdout_lines | length }}"}
    - name: verdict
      verdict: {code: ok, severity: ok, summary: "{{ n }} lines"}
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def playbook(tmp_path: Path, text: str = GOOD, name: str = "pb.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_good_playbook_runs_writes_the_run_folder_and_exits_0(tmp_path, capsys):
    code, out, _ = run(capsys, "run", playbook(tmp_path), "-o", "out", "--json", "r.json")
    assert code == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    host = doc["hosts"]["localhost"]
    assert (host["status"], host["verdict"], host["summary"]) == ("ok", "ok", "3 lines")
    assert host["findings"][0]["status"] == "pass"
    assert [entry["host"] for entry in read_host_lines(tmp_path / "out")] == ["localhost"]
    meta = json.loads((tmp_path / "out" / "run.json").read_text())
    assert meta["finished"] is not None and meta["interrupted"] is False
    assert (tmp_path / "out" / "report.md").exists()
    assert "localhost" in out


def test_default_run_folder_is_under_reports_named_after_the_playbook(tmp_path, capsys):
    code, _, _ = run(capsys, "run", playbook(tmp_path, name="demo.yml"))
    assert code == 0
    [folder] = (tmp_path / "reports").iterdir()
    assert folder.name.endswith("-demo")
    assert (folder / "hosts.jsonl").exists()


def test_saved_run_is_rendered_again_by_report(tmp_path, capsys):
    run(capsys, "run", playbook(tmp_path), "-o", "out")
    code, out, _ = run(capsys, "report", "out", "--format", "json")
    assert code == 0
    assert json.loads(out)["hosts"]["localhost"]["verdict"] == "ok"


def test_malformed_yaml_names_file_and_line_and_exits_4(tmp_path, capsys):
    path = playbook(tmp_path, "- hosts: all\n  tasks:\n    - command: [ls\n    - debug: msg=x\n")
    code, _, err = run(capsys, "run", path)
    assert code == 4
    assert f"{path}:4" in err and "YAML syntax error" in err


def test_unknown_module_lists_known_modules_and_exits_4(tmp_path, capsys):
    code, _, err = run(
        capsys, "run", playbook(tmp_path, "- hosts: all\n  tasks:\n    - name: t\n      shell: ls\n")
    )
    assert code == 4
    assert "unknown module 'shell'" in err and "pb.yml:4" in err
    assert "check, command, debug, facts, profile, sample, set_fact, suggest, verdict" in err


def test_unknown_task_key_lists_allowed_keys_and_exits_4(tmp_path, capsys):
    code, _, err = run(
        capsys, "run", playbook(tmp_path, "- hosts: all\n  tasks:\n    - command: ls\n      become: true\n")
    )
    assert code == 4
    assert "unknown key 'become'" in err and "pb.yml:4" in err and "ignore_errors" in err


def test_bad_when_syntax_quotes_the_expression_and_exits_4(tmp_path, capsys):
    code, _, err = run(
        capsys,
        "run",
        playbook(tmp_path, "- hosts: all\n  tasks:\n    - debug: msg=x\n      when: out.rc ==\n"),
    )
    assert code == 4
    assert "'out.rc ==' does not parse" in err and "pb.yml:4" in err


def test_undefined_variable_at_run_time_fails_the_host_and_exits_2(tmp_path, capsys):
    text = "- hosts: all\n  tasks:\n    - name: typo\n      set_fact: {a: '{{ nope + 1 }}'}\n"
    code, out, _ = run(capsys, "run", playbook(tmp_path, text), "-o", "out", "--json", "r.json")
    assert code == 2
    host = json.loads((tmp_path / "r.json").read_text())["hosts"]["localhost"]
    assert host["status"] == "failed"
    assert "pb.yml:3: task 'typo'" in host["reason"] and "'nope' is undefined" in host["reason"]
    assert "failed" in out


def test_missing_vars_file_names_the_reference_and_exits_4(tmp_path, capsys):
    code, _, err = run(
        capsys, "run", playbook(tmp_path, "- hosts: all\n  vars_files: [gone.yml]\n  tasks: []\n")
    )
    assert code == 4
    assert "pb.yml:2" in err and "gone.yml" in err and "not found" in err


def test_syntax_check_of_a_good_playbook_exits_0_and_runs_nothing(tmp_path, capsys):
    code, out, _ = run(capsys, "run", playbook(tmp_path), "--syntax-check")
    assert code == 0
    assert "playbook:" in out
    assert not (tmp_path / "reports").exists()


def test_list_tasks_prints_task_names_and_tags_filtered(tmp_path, capsys):
    code, out, _ = run(capsys, "run", playbook(tmp_path), "--list-tasks", "--tags", "probe")
    assert code == 0
    assert "count to three\tTAGS: [probe]" in out
    assert "verdict" not in out.split("tasks:")[1]


def test_list_hosts_shows_the_implicit_localhost(tmp_path, capsys):
    code, out, _ = run(capsys, "run", playbook(tmp_path), "--list-hosts")
    assert code == 0
    assert "hosts (1):" in out and "localhost" in out


def test_extra_vars_are_yaml_typed_and_win_over_play_vars(tmp_path, capsys):
    code, _, _ = run(capsys, "run", playbook(tmp_path), "-e", "limit=2", "-o", "out", "--json", "r.json")
    assert code == 0
    finding = json.loads((tmp_path / "r.json").read_text())["hosts"]["localhost"]["findings"][0]
    assert (finding["status"], finding["threshold"]) == ("fail", 2)


@pytest.mark.parametrize("bad", ["limit", "1=2", "{not: [closed", "a=1 b"])
def test_bad_extra_vars_exit_5(tmp_path, capsys, bad):
    code, _, err = run(capsys, "run", playbook(tmp_path), "-e", bad)
    assert code == 5
    assert err.startswith("ERROR: ")


def test_extra_vars_from_a_file(tmp_path, capsys):
    (tmp_path / "vars.json").write_text('{"limit": 1}')
    code, _, _ = run(capsys, "run", playbook(tmp_path), "-e", "@vars.json", "-o", "out", "--json", "r.json")
    assert code == 0
    assert (
        json.loads((tmp_path / "r.json").read_text())["hosts"]["localhost"]["findings"][0]["status"] == "fail"
    )


def test_nonexistent_playbook_exits_1_and_says_where_it_looked(tmp_path, capsys):
    code, _, err = run(capsys, "run", "no-such-playbook")
    assert code == 1
    assert "playbook 'no-such-playbook' not found" in err and "looked in" in err


def test_bad_option_exits_5(capsys):
    code, _, err = run(capsys, "run")
    assert code == 5
    assert "playbook" in err


def test_fail_on_a_verdict_at_or_above_the_severity_exits_10(tmp_path, capsys):
    text = "- hosts: all\n  tasks:\n    - verdict: {code: minor-storm, severity: warning, summary: s}\n"
    path = playbook(tmp_path, text)
    assert run(capsys, "run", path, "-o", "a", "--fail-on", "warning")[0] == 10
    assert run(capsys, "run", path, "-o", "b", "--fail-on", "critical")[0] == 0


def test_sigterm_keeps_finished_hosts_on_disk_marks_the_run_interrupted_and_exits_99(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    (tmp_path / "inv.ini").write_text("".join(f"h{i} ansible_connection=local\n" for i in range(3)))
    path = playbook(tmp_path, "- hosts: all\n  tasks:\n    - command: sleep 0.3\n    - verdict: {code: ok}\n")
    repo = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": repo}
    argv = [sys.executable, "-m", "diag", "run", path, "-i", "inv.ini", "-f", "1", "-o", "out", "-v"]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the first host is done, then interrupt
        if line.startswith("ok: [h0] verdict"):
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 99, err
    assert "Traceback" not in out + err
    saved = read_host_lines(tmp_path / "out")
    assert saved[0]["host"] == "h0" and saved[0]["result"]["verdict"] == "ok"
    assert len(saved) < 3
    assert json.loads((tmp_path / "out" / "run.json").read_text())["interrupted"] is True
