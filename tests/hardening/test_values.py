"""Values that must be refused, not guessed (issue 8, sections 2 and 3): exit 5 (bad ``-e`` or option) or
4 (bad playbook) before any host is contacted, or a clear task failure when only templating shows it.
A hypothesis fuzz sends ``-e`` values and module arguments through the validator: never exit 250.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diag.cli import main
from diag.playbook.modules import MODULES
from diag.playbook.modules.base import arg_problems
from diag.playbook.validate import load_playbook
from diag.shared.errors import DiagError, PlaybookError, UsageError
from diag.shared.limits import MAX_INTERVAL_S, MIN_INTERVAL_S

SAMPLE = """
- name: demo
  hosts: all
  vars: {interval_s: 0.2, top_n: 5}
  tasks:
    - name: touch a marker (proves a host was contacted)
      command: "touch contacted"
    - name: sample
      sample: {interval_s: "{{ interval_s }}", top_n: "{{ top_n }}", perf: false}
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pb.yml").write_text(SAMPLE)


@pytest.mark.parametrize(
    "argv",
    [
        ["-e", "interval_s=0"],
        ["-e", "interval_s=-1"],
        ["-e", "interval_s=1e9"],
        ["-e", "interval_s=[1]"],
        ["-e", "interval_s=0.01"],
        ["-e", f"interval_s={MAX_INTERVAL_S * 2}"],
        ["-e", "interval_s=.nan"],
        ["-e", "top_n=0"],
        ["-e", "top_n=-5"],
        ["-e", "top_n=1e400"],
        ["-e", "top_n=2.5"],
        ["-e", '{"top_n": "5"}'],
        ["--command-timeout", "nan"],
        ["--host-deadline", "nan"],
        ["--host-deadline", "inf"],
        ["-T", "inf"],
        ["-T", "nan"],
        ["-T", "-1"],
    ],
)
def test_bad_values_exit_5_before_any_host_is_contacted(tmp_path, capsys, argv):
    assert main(["run", "pb.yml", *argv, "-o", "out"]) == 5
    err = capsys.readouterr().err
    assert err.startswith("ERROR:") and "internal error" not in err
    assert not (tmp_path / "contacted").exists()


def test_the_minimum_interval_is_accepted(tmp_path):
    assert main(["run", "pb.yml", "-e", f"interval_s={MIN_INTERVAL_S}", "-o", "out"]) == 0


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("sample", {"top_n": 1e400}, "top_n must be a whole number"),
        ("sample", {"top_n": "5"}, "top_n must be a whole number"),
        ("sample", {"interval_s": 0}, "interval_s must be a number"),
        ("command", {"cmd": "true", "ok_rcs": ["abc"]}, "ok_rcs item 1"),
        ("command", {"cmd": "true", "ok_rcs": [256]}, "ok_rcs item 1"),
        ("command", {"cmd": "true", "timeout_s": float("nan")}, "timeout_s must be"),
        ("check", {"id": "x", "value": "1", "op": ">", "threshold": float("nan")}, "threshold must be"),
        ("check", {"id": "x", "value": "1", "op": ">", "threshold": "abc"}, "threshold must be"),
    ],
)
def test_literal_module_arguments_of_wrong_type_or_range_fail_validation(tmp_path, module, args, message):
    (tmp_path / "bad.yml").write_text(yaml.safe_dump([{"hosts": "all", "tasks": [{module: args}]}]))
    with pytest.raises(PlaybookError, match=message) as info:
        load_playbook(tmp_path / "bad.yml")
    assert "bad.yml:" in info.value.render()


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"verdict": {"code": "ok", "culprits": '"5"'}}, "culprits must be a list"),
        ({"set_fact": {"n": 0}}, None),
        ({"sample": {"top_n": "{{ n }}", "perf": False, "interval_s": 0.2}}, "top_n must be a whole number"),
    ],
)
def test_templated_arguments_are_checked_again_at_run_time(tmp_path, capsys, task, message):
    tasks = [{"set_fact": {"n": 0}}, task]
    (tmp_path / "rt.yml").write_text(json.dumps([{"hosts": "all", "tasks": tasks}]))
    code = main(["run", "rt.yml", "-o", "out", "-v"])
    out = capsys.readouterr()
    if message is None:
        assert code == 0
        return
    assert code == 2 and message in out.out and "internal error" not in out.out + out.err


def test_ports_out_of_range_are_not_port_numbers(tmp_path, capsys):
    (tmp_path / "inv.ini").write_text("h1 ansible_port=99999 ansible_host=127.0.0.1\nh2 ansible_port=0\n")
    (tmp_path / "pb.yml").write_text("- hosts: all\n  tasks:\n    - command: 'true'\n")
    main(["run", "pb.yml", "-i", "inv.ini", "-o", "out", "-T", "2"])
    lines = [json.loads(line) for line in (tmp_path / "out" / "hosts.jsonl").read_text().splitlines()]
    assert {e["host"]: e["result"]["status"] for e in lines} == {"h1": "failed", "h2": "failed"}
    assert all("not a port number" in e["result"]["reason"] for e in lines)


# -- fuzz ------------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    module=st.sampled_from(["sample", "command", "check"]),
    key=st.sampled_from(["interval_s", "top_n", "perf", "ok_rcs", "timeout_s", "threshold"]),
    value=_values,
)
def test_fuzz_module_arguments_through_the_specs_never_crash(module, key, value):
    specs = MODULES[module].args
    if key not in specs:
        return
    problems = arg_problems(specs, {key: value})
    if isinstance(value, float) and not math.isfinite(value):
        assert problems, (module, key, value)
    for name, problem in problems:
        assert name == key and isinstance(problem, str)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["interval_s", "top_n", "other"]), text=st.text(max_size=20))
def test_fuzz_extra_vars_give_a_result_or_a_usage_error(name, text):
    from diag.run.service import RunRequest, check_syntax

    try:
        check_syntax(RunRequest(playbook="pb.yml", extra_vars=(f"{name}={text}",)))
    except DiagError as exc:
        assert isinstance(exc, UsageError | DiagError) and exc.render()
