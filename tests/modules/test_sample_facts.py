"""sample and facts on this machine's live /proc, through the real local transport and probe."""

from __future__ import annotations

from tests.playbook.helpers import run_on_localhost


def test_sample_registers_the_sample_and_fills_the_host_result(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - sample: {interval_s: 0.5, top_n: 5, perf: false}
              register: s
            - check: {id: minor, value: s.rates.minflt_per_s, op: ">=", threshold: 0}
        """,
    )
    assert result.status == "ok", result.reason
    assert result.raw
    assert result.sample is not None
    data = result.to_dict()
    assert "minflt_per_s" in data["rates"] and "majflt_per_s" in data["rates"]
    assert result.sample.rates.minflt_per_s is not None and result.sample.rates.majflt_per_s is not None
    assert len(result.sample.processes) <= 5 and len(data["top_processes"]) <= 5
    assert result.sample.interval_s > 0 and data["sample"]["interval_s"] > 0
    assert result.facts is not None and result.facts.kernel
    [finding] = result.findings
    assert finding.status in ("fail", "skip")


def test_facts_sets_the_facts_variable_and_the_host_facts(tmp_path):
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - facts:
            - verdict: {code: ok, summary: "{{ facts.page_size }}"}
        """,
    )
    assert result.status == "ok", result.reason
    assert result.facts is not None and result.facts.kernel
    assert result.to_dict()["facts"]["kernel"] == result.facts.kernel
    assert result.verdict is not None and int(result.verdict.summary) > 0
