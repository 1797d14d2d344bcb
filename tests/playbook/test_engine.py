"""The engine on a real local host: when, register, tags, ignore_errors, variable precedence, verdicts."""

from __future__ import annotations

from diag.inventory import Host
from diag.playbook.engine import Engine, EngineOptions
from diag.playbook.validate import load_playbook
from tests.playbook.helpers import run_on_localhost, write_playbook

PRECEDENCE = """
- hosts: all
  vars: {v: play, w: play, x: play, y: play, z: play}
  vars_files: [files.yml]
  tasks:
    - name: task vars
      vars: {x: task, y: task, z: task}
      set_fact: {seen: "{{ [v, w, x, y, z] }}"}
    - name: set_fact beats task vars, extra vars beat set_fact
      set_fact: {y: fact, z: fact}
    - name: read
      vars: {y: task, z: task}
      set_fact: {after: "{{ [y, z] }}"}
    - verdict: {code: ok, summary: "{{ seen }} {{ after }}"}
"""


def test_variable_precedence_follows_ansible(tmp_path):
    (tmp_path / "files.yml").write_text("w: files\nx: files\n")
    result, _ = run_on_localhost(
        tmp_path, PRECEDENCE, host_vars={"x": "host", "y": "host"}, extra_vars={"z": "extra"}
    )
    assert result.status == "ok", result.reason
    assert result.verdict is not None
    # play < vars_files < inventory host vars < task vars < set_fact/registered < -e
    assert result.verdict.summary == "['play', 'files', 'task', 'task', 'extra'] ['fact', 'extra']"


def test_templated_play_vars_see_host_vars_and_extra_vars(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          vars: {limit: "{{ base * 2 }}"}
          tasks:
            - verdict: {code: ok, summary: "{{ limit + 1 }}"}
        """,
        host_vars={"base": 5},
    )
    assert result.verdict is not None and result.verdict.summary == "11"


def test_register_and_when_use_a_real_commands_result(tmp_path):
    result, lines = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - command: "printf '%s\\n' {{ word | quote }}"
              vars: {word: "two words"}
              register: out
            - name: taken
              when: out.stdout_lines == ['two words']
              set_fact: {branch: taken}
            - name: not taken
              when: [out.rc == 0, out.stdout == 'nope']
              set_fact: {branch: wrong}
            - verdict: {code: ok, summary: "{{ branch }}"}
        """,
    )
    assert result.verdict is not None and result.verdict.summary == "taken"
    assert result.task_stats == {"ok": 3, "failed": 0, "skipped": 1, "ignored": 0}
    assert any(line.startswith("skipping: [localhost] not taken") for line in lines)


def test_failing_command_fails_the_host_and_stops_its_tasks(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - name: boom
              command: "echo oops >&2; exit 3"
            - verdict: {code: ok}
        """,
    )
    assert result.status == "failed"
    assert result.reason is not None
    assert (
        "pb.yml:3: task 'boom'" in result.reason and "exited 3" in result.reason and "oops" in result.reason
    )
    assert result.verdict is None
    assert result.task_stats["failed"] == 1 and result.task_stats["ok"] == 0


def test_ignore_errors_counts_ignored_and_registers_the_failure(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - command: "exit 4"
              register: r
              ignore_errors: true
            - verdict: {code: ok, summary: "{{ r.failed }} {{ r.rc }}"}
        """,
    )
    assert result.status == "ok"
    assert result.verdict is not None and result.verdict.summary == "True 4"
    assert result.task_stats["ignored"] == 1


def test_ok_rcs_accepts_other_exit_codes(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        "- hosts: all\n  tasks:\n    - command: {cmd: 'exit 1', ok_rcs: [0, 1]}\n      register: r\n",
    )
    assert result.status == "ok" and result.task_stats["ok"] == 1


def test_undefined_variable_at_run_time_fails_the_host_naming_task_and_expression(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - name: uses a typo
              set_fact: {x: "{{ sampel.rates }}"}
        """,
    )
    assert result.status == "failed"
    assert result.reason is not None
    assert "pb.yml:3: task 'uses a typo'" in result.reason
    assert "'sampel' is undefined" in result.reason and "sampel.rates" in result.reason


def test_tags_select_tasks_and_never_runs_only_when_asked(tmp_path):
    text = """
    - hosts: all
      tasks:
        - {set_fact: {a: 1}, tags: [one]}
        - {set_fact: {b: 1}, tags: [two]}
        - {set_fact: {c: 1}, tags: [always]}
        - {set_fact: {d: 1}, tags: [never, debug]}
    """
    only_one, _ = run_on_localhost(tmp_path, text, tags=("one",))
    assert only_one.task_stats["ok"] == 2  # one + always
    skip_one, _ = run_on_localhost(tmp_path, text, skip_tags=("one",))
    assert skip_one.task_stats["ok"] == 2  # two + always
    debug, _ = run_on_localhost(tmp_path, text, tags=("debug",))
    assert debug.task_stats["ok"] == 2  # never+debug + always


def test_host_where_every_task_is_filtered_out_is_skipped(tmp_path):
    result, _ = run_on_localhost(
        tmp_path, "- hosts: all\n  tasks:\n    - {set_fact: {a: 1}, tags: [x]}\n", tags=("y",)
    )
    assert result.status == "skipped"
    assert result.verdict is None


def test_first_verdict_wins_and_later_ones_are_skipped_with_the_reason(tmp_path):
    result, lines = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - name: first
              verdict: {code: minor-storm, severity: warning, summary: first}
            - name: second
              verdict: {code: ok, severity: ok, summary: second}
        """,
    )
    assert result.verdict is not None
    assert (result.verdict.code, result.verdict.task) == ("minor-storm", "first")
    assert "skipping: [localhost] second => verdict already set by first" in lines


def test_ok_host_without_a_verdict_task_is_not_evaluable(tmp_path):
    result, _ = run_on_localhost(tmp_path, "- hosts: all\n  tasks:\n    - set_fact: {a: 1}\n")
    assert result.verdict is not None
    assert (result.verdict.code, result.verdict.summary) == ("not-evaluable", "no verdict task matched")


def test_host_whose_transport_cannot_open_gets_its_state_and_others_still_run(tmp_path):
    playbook = load_playbook(write_playbook(tmp_path, "- hosts: all\n  tasks:\n    - command: 'true'\n"))
    broken = Host("broken", {"ansible_connection": "telnet"}, ())
    good = Host("localhost", {"ansible_connection": "local"}, ())
    done: list[str] = []
    engine = Engine(EngineOptions(forks=2), on_host_done=lambda result, commands: done.append(result.host))
    bad_result, good_result = engine.run([(broken, list(playbook.plays)), (good, list(playbook.plays))])
    assert bad_result.status == "failed" and "not supported" in (bad_result.reason or "")
    assert good_result.status == "ok"
    assert sorted(done) == ["broken", "localhost"]


def test_hosts_run_in_parallel(tmp_path):
    # A barrier, not a stopwatch: each host's command waits until all four have started, so the run
    # can only succeed when the four run at the same time (in series the first gives up after ~30 s).
    barrier = tmp_path / "started"
    barrier.mkdir()
    wait_for_all = (
        f"mktemp -p {barrier} >/dev/null; n=0; "
        f'while [ "$(ls {barrier} | wc -l)" -lt 4 ]; do '
        "n=$((n+1)); [ $n -gt 600 ] && exit 1; sleep 0.05; done"
    )
    text = f"- hosts: all\n  tasks:\n    - command: '{wait_for_all}'\n"
    playbook = load_playbook(write_playbook(tmp_path, text))
    hosts = [Host(f"h{i}", {"ansible_connection": "local"}, ()) for i in range(4)]
    results = Engine(EngineOptions(forks=4)).run([(h, list(playbook.plays)) for h in hosts])
    assert [r.status for r in results] == ["ok"] * 4
