"""The vocabularies (verdict codes, severities, host states) have one order and one reading of a stored
value: every place that ranks or compares them agrees, and a value this version does not know (a newer
pfdiag's run, a hand-edited history) loads with the documented fallback instead of crashing."""

from __future__ import annotations

import json
from pathlib import Path

from diag.cli.audit import new_at_or_above
from diag.cli.main import ExitCode, run_exit_code
from diag.findings import (
    HOST_STATES,
    VERDICT_CODES,
    Culprit,
    Finding,
    HostResult,
    HostState,
    RunResult,
    Severity,
    Verdict,
    VerdictCode,
)
from diag.fleet import PROBLEM_VERDICTS, VERDICT_ORDER, build_fleet, severity_rank
from diag.history.diff import Diff, Problem, diff_problems, host_problems
from diag.history.store import History
from diag.report.markdown import render_markdown
from diag.report.prometheus import write_textfile
from diag.report.terminal import render_terminal
from diag.shared.units import now_stamp

SCOPE = '{"playbook": "audit.yml", "inventory": ["fleet"], "limit": null}'


def _host(name: str, code: str, severity: str, **kw) -> HostResult:
    return HostResult(name, verdict=Verdict(code, severity, f"{code} on {name}"), **kw)


def _run(*hosts: HostResult) -> RunResult:
    return RunResult("triage.yml", ["fleet"], None, now_stamp(), finished=now_stamp(), hosts=list(hosts))


def test_verdicts_have_one_order_worst_first_with_not_evaluable_between_problems_and_ok():
    assert VerdictCode.worst_first() == ("major-swap", "major-file", "minor-storm", "not-evaluable", "ok")
    assert VerdictCode.worst_first() == VERDICT_ORDER
    assert PROBLEM_VERDICTS == ("major-swap", "major-file", "minor-storm")
    # the documented listing (docs/design.md, the totals line, "one of: ...") is unchanged
    assert VERDICT_CODES == ("ok", "minor-storm", "major-swap", "major-file", "not-evaluable")
    assert HOST_STATES[0] == "ok" and "auth-failed" in HOST_STATES


def test_severities_compare_by_rank_not_alphabetically():
    assert Severity.critical > Severity.warning > Severity.info > Severity.ok
    assert max([Severity.warning, Severity.critical, Severity.info]) is Severity.critical
    assert [s.rank for s in Severity] == [0, 1, 2, 3]
    assert Severity.parse(" Critical ") is Severity.critical


def test_vocabularies_serialise_as_their_plain_strings():
    host = _host("web1", VerdictCode.major_swap, Severity.critical, status=HostState.ok)
    data = host.to_dict()
    assert (data["verdict"], data["severity"], data["status"]) == ("major-swap", "critical", "ok")

    assert '"verdict": "major-swap"' in json.dumps(data)


def test_fleet_table_and_deep_dive_rank_not_evaluable_by_the_same_rank():
    """The markdown table lists an unjudged host before a healthy one; the deep dive's worst-of over
    processes takes the same rank for judged verdicts, and never lets an unjudged process hide a
    judged storm or turn a judged-healthy host unjudged (the old profile.VERDICT_RANK put
    not-evaluable below ok, fleet.VERDICT_ORDER above it)."""
    run = _run(_host("a-ok", "ok", "ok"), _host("b-unjudged", "not-evaluable", "info"))
    text = render_markdown(run)
    table = text[text.index("| not-evaluable") - 2 :]
    assert "| ok " in table  # not-evaluable's row comes first, ok's after it
    ranked = sorted(VerdictCode, key=lambda c: c.rank)
    assert ranked.index(VerdictCode.not_evaluable) > ranked.index(VerdictCode.ok)
    assert VerdictCode.worst_known(["minor-storm", "not-evaluable"]) is VerdictCode.minor_storm
    assert VerdictCode.worst_known(["ok", "not-evaluable"]) is VerdictCode.ok
    assert VerdictCode.worst_known([]) is VerdictCode.not_evaluable
    judged = ["ok", "major-file", "minor-storm"]
    assert VerdictCode.worst_known(judged) == max(judged, key=lambda c: VerdictCode(c).rank)


def test_every_severity_lookup_reads_an_unknown_stored_name_as_info(tmp_path: Path):
    """An old or hand-edited run says severity "severe": the fleet rank, --fail-on, the audit's
    problem threshold, --fail-on-new and the Prometheus gauge all read it as info (before: -1, skipped,
    info, info, skipped)."""
    host = HostResult.from_dict(
        {"host": "web1", "status": "ok", "verdict": "minor-storm", "severity": "severe", "summary": "s"}
    )
    run = _run(host)
    assert severity_rank("severe") == Severity.info.rank == build_fleet(run).hosts["severity_rank"][0]
    assert run_exit_code(run, "info") == ExitCode.FAIL_ON
    assert run_exit_code(run, "warning") == ExitCode.OK
    odd = Finding("swap", "t", "fail", "severe", "m")
    host.findings.append(odd)
    assert [p.kind for p in host_problems(host, "t0")] == ["verdict"]  # info checks are context
    new = Diff(new=[Problem("web1", "swap", "", "check", "severe", "m")])
    assert new_at_or_above(type("Audit", (), {"diff": new})(), "info")
    assert not new_at_or_above(type("Audit", (), {"diff": new})(), "warning")
    path = write_textfile(tmp_path / "pfdiag.prom", run, {}, duration_s=None, last_success=None)
    assert 'pfdiag_host_severity{host="web1"} 1.0' in path.read_text()


def test_a_host_state_this_version_does_not_know_reads_as_failed():
    """A newer pfdiag's run with a state "quarantined": the run exits 2 (a host did not complete),
    where the old lookup saw neither failed nor unreachable and exited 0."""
    host = HostResult.from_dict({"host": "web1", "status": "quarantined", "reason": "newer pfdiag"})
    assert HostState.read(host.status) is HostState.failed
    assert run_exit_code(_run(host), None) == ExitCode.HOST_FAILED
    assert "quarantined: [web1] newer pfdiag" in render_terminal(_run(host))  # shown as written


def test_a_verdict_this_version_does_not_know_cannot_resolve_a_problem():
    """The next audit says "major-numa": it did not judge the storm gone, so the storm is unknown,
    not resolved (before, any code but ok/not-evaluable counted as a judgement)."""
    before = host_problems(
        HostResult("web1", verdict=Verdict("minor-storm", "warning", "s", (Culprit(7, "java", 5e4, 0),))),
        "t0",
    )
    diff = diff_problems(before, [_host("web1", "major-numa", "critical")], "t1")
    assert (len(diff.unknown), len(diff.resolved), len(diff.new)) == (1, 0, 0)


def test_history_reads_an_unknown_stored_verdict_as_not_judged(tmp_path: Path):
    """The same through the stored rows (``pfdiag audit --diff A B`` on a hand-edited history)."""
    storm = HostResult("web1", verdict=Verdict("minor-storm", "warning", "s", (Culprit(7, "java", 5e4, 0),)))
    with History(tmp_path / "h.sqlite") as history:
        ids = []
        for host in (storm, _host("web1", "ok", "ok")):
            run = _run(host)
            run_id = history.begin(SCOPE, "audit.yml", ["fleet"], None, "")
            history.record(run_id, run, SCOPE, lambda b, run=run: diff_problems(b, run.hosts, now_stamp()))
            ids.append(run_id)
        assert len(history.diff_runs(*ids).resolved) == 1
        with history.transaction() as db:
            db.execute("UPDATE host_results SET verdict = 'major-numa' WHERE run_id = ?", (ids[1],))
        diff = history.diff_runs(*ids)
        assert (len(diff.unknown), len(diff.resolved)) == (1, 0)


def test_report_lists_a_host_with_an_unknown_stored_verdict_as_not_evaluated():
    """The markdown report's "Hosts not evaluated" and its headline read the verdict leniently too: a
    code this version does not know is not a judgement (before, such a host was in neither list)."""
    text = render_markdown(_run(_host("web1", "ok", "ok"), _host("web2", "major-numa", "severe")))
    assert "1 host could not be evaluated: 1 major-numa." in text
    section = text[text.index("## Hosts not evaluated") :]
    assert "| web2 " in section and "| web1 " not in section
