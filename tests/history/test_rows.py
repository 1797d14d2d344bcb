"""The history's rows are records (``diag.history.rows``) whose fields are the tables' columns: what
``pfdiag history ... --json`` prints keeps the keys it always had, in their order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diag.cli import main
from diag.findings import Culprit, HostResult, RunResult, Verdict
from diag.history.diff import diff_problems
from diag.history.rows import AuditDetail, AuditRow, HostPoint, PreviousHost
from diag.history.store import History
from diag.shared.records import from_data, to_data
from diag.shared.units import now_stamp

SCOPE = '{"playbook": "audit.yml", "inventory": ["fleet"], "limit": null}'
AUDIT_KEYS = [
    "id", "started", "started_ts", "finished", "duration_s", "scope", "playbook", "inventory", "host_limit",
    "run_dir", "complete", "interrupted", "hosts", "states", "baseline_id", "new", "persisting", "resolved",
    "unknown", "notify_status", "notify_error",
]  # fmt: skip
HOST_KEYS = [
    "host", "state", "reason", "verdict", "severity", "summary", "culprit", "majflt_per_s", "minflt_per_s",
    "swapin_per_s", "pswpout_per_s", "pgscan_direct_per_s", "oom_kill_total", "boot_id",
]  # fmt: skip


def history(tmp_path: Path) -> Path:
    """Two audits of web1: quiet, then a storm by java."""
    path = tmp_path / "h.sqlite"
    storm = Verdict("minor-storm", "warning", "storm", (Culprit(7, "java", 5e4, 0.0),))
    with History(path) as h:
        for verdict in (Verdict("ok", "ok", "quiet"), storm):
            run = RunResult("audit.yml", ["fleet"], None, now_stamp(), finished=now_stamp(),
                            hosts=[HostResult("web1", verdict=verdict)])  # fmt: skip
            run_id = h.begin(SCOPE, "audit.yml", ["fleet"], None, str(tmp_path / "run"))
            h.record(
                run_id, run, SCOPE, lambda before, run=run: diff_problems(before, run.hosts, now_stamp())
            )
    return path


def history_json(capsys: Any, path: Path, *argv: str) -> Any:
    assert main(["history", *argv, "--history", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_history_json_keys_are_the_columns_in_their_order(tmp_path: Path, capsys: Any) -> None:
    path = history(tmp_path)
    audits = history_json(capsys, path)
    assert [list(a) for a in audits] == [AUDIT_KEYS, AUDIT_KEYS]
    assert audits[0]["complete"] is True and audits[0]["inventory"] == ["fleet"]
    assert audits[0]["states"] == {"ok": 1} and audits[0]["new"] == 1
    shown = history_json(capsys, path, "show", "2")
    assert list(shown) == [*AUDIT_KEYS, "hosts_detail", "problems"]
    assert [list(h) for h in shown["hosts_detail"]] == [["run_id", *HOST_KEYS]]
    assert shown["hosts_detail"][0]["culprit"] == "java" and shown["problems"][0]["comm"] == "java"
    series = history_json(capsys, path, "host", "web1")
    assert [list(p) for p in series] == [["run_id", "started", "complete", *HOST_KEYS]] * 2
    assert series[1]["complete"] == 1 and series[1]["verdict"] == "minor-storm"
    diff = history_json(capsys, path, "diff")
    assert list(diff) == ["a", "b", "new", "persisting", "resolved", "unknown"]


def test_history_rows_are_records_that_round_trip(tmp_path: Path) -> None:
    with History(history(tmp_path)) as h:
        audits, detail, series = h.runs(), h.run(2), h.host_series("web1")
        previous = h.previous_hosts(SCOPE)
    assert all(isinstance(a, AuditRow) for a in audits) and isinstance(detail, AuditDetail)
    assert all(isinstance(p, HostPoint) for p in series)
    assert previous["web1"] == PreviousHost(None, None, detail.started)
    assert list(to_data(previous["web1"])) == ["oom_kill_total", "boot_id", "time"]  # the audit_previous var
    for record in (audits[0], detail, series[0], previous["web1"]):
        assert from_data(type(record), json.loads(json.dumps(to_data(record)))) == record
