"""`pfdiag audit` end to end: a real sshd fleet and a real fault workload between audits.

quiet -> storm -> quiet gives each host a new problem, then a resolved one; a quiet repeat notifies
nothing; a notify command and a webhook on a loopback HTTP server both get the payload; the textfile
parses with prometheus_client's parser; the report opens with "Since the last audit". Then, on this
machine: two audits at once on one history both land; an audit killed with SIGKILL leaves the history
intact (integrity_check) and incomplete, and the next audit works.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from tests.fixtures.processes import all_stats
from tests.fixtures.ssh_argv import ssh_options
from tests.fixtures.sshd_fleet import Fleet
from tests.fixtures.webhook import webhook_receiver
from tests.fixtures.workloads import _running, comm_of

REPO = Path(__file__).resolve().parent
AUDIT = str(REPO.parent / "playbooks" / "audit.yml")
STORM_NAME = "pf audit storm"  # not the other tests' storm name: this test's problem is its own
HOSTS = ("h01", "h02", "h03")
# Only a per-process minor storm counts: the host-wide rates and the configuration checks of a shared
# test machine are not what this test is about, so their thresholds are out of reach.
PROC_MINFLT_PER_S = 45_000
QUIET_VARS = f"""\
interval_s: 1
proc_minflt_per_s: {PROC_MINFLT_PER_S}
proc_majflt_per_s: 1000000
host_minflt_per_s: 1000000000
host_majflt_per_s: 1000000000
psi_memory_some_pct: 101
psi_io_some_pct: 101
mem_available_low_pct: 0
swapout_pages_per_s: 1000000000
numa_hint_faults_per_s: 1000000000
thp_fallback_per_s: 1000000000
direct_reclaim_per_s: 1000000000
compact_stall_per_s: 1000000000
compact_fail_pct: 101
high_order_free_min_pct: 0
mlock_host_warn_pct: 101
mlock_host_critical_pct: 101
mlock_limit_pct: 1000
"""


def _minflt_by_pid() -> dict[int, tuple[str, int]]:
    # own minor faults + those of reaped children: the triage ranks a process by both
    return {stat.pid: (stat.comm, stat.minflt + stat.cminflt) for stat in all_stats()}


def wait_for_no_other_storm(limit_per_s: float, timeout_s: float = 60.0) -> None:
    """This test's quiet audits need a machine where no other process storms (the suite's machine may
    be shared): wait until, over one second, none comes near limit_per_s minor faults/s."""
    deadline = time.monotonic() + timeout_s
    worst: tuple[float, str] = (0.0, "")
    while time.monotonic() < deadline:
        before = _minflt_by_pid()
        time.sleep(1.0)  # the measuring interval, not a wait for something to happen
        after = _minflt_by_pid()
        rates = [(after[p][1] - before[p][1], after[p][0]) for p in after if p in before and p != os.getpid()]
        worst = max(rates, default=(0.0, ""))
        if worst[0] < limit_per_s * 0.8:
            return
    pytest.fail(
        f"machine not quiet: {worst[1]!r} makes {worst[0]:.0f} minor faults/s "
        f"(want < {limit_per_s * 0.8:.0f})"
    )


def history_rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


@pytest.mark.ssh
@pytest.mark.workload
def test_quiet_storm_quiet_gives_new_then_resolved_per_host_and_notifies_once_each(
    ssh_fleet: Fleet, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PFDIAG_HISTORY", raising=False)
    inventory = ssh_fleet.write_inventory(tmp_path / "inv.ini")
    (tmp_path / "quiet.yml").write_text(QUIET_VARS)
    payloads = tmp_path / "payloads"
    payloads.mkdir()
    textfile = tmp_path / "textfile" / "pfdiag.prom"
    storm_comm = comm_of(STORM_NAME)

    with webhook_receiver() as receiver:

        def audit() -> tuple[int, str, dict[str, Any]]:
            before = set(payloads.iterdir())
            code = main(
                [
                    "audit",
                    AUDIT,
                    "-i",
                    str(inventory),
                    "-l",
                    ":".join(HOSTS),
                    "-e",
                    "@quiet.yml",
                    "--notify",
                    f"cat > {payloads}/$$.json",
                    "--notify-url",
                    receiver.url,
                    "--textfile",
                    str(textfile),
                    "--fail-on-new",
                    *ssh_options(ssh_fleet, 3),
                ]
            )
            out, err = capsys.readouterr()
            assert "Traceback" not in out + err
            new_payloads = set(payloads.iterdir()) - before
            assert len(new_payloads) <= 1  # once per audit
            sent = json.loads(new_payloads.pop().read_text()) if new_payloads else {}
            return code, out, sent

        def storm_keys(items: list[dict[str, Any]]) -> set[str]:
            return {i["host"] for i in items if i["code"] == "minor-storm" and i["comm"] == storm_comm}

        wait_for_no_other_storm(PROC_MINFLT_PER_S)
        code, out, sent = audit()
        # (a neighbour's storm on a shared test machine may be new here; this test's storm is not)
        assert code in (0, 10) and "first audit of this scope" in out and not storm_keys(sent.get("new", []))
        posts = len(receiver.bodies)

        wait_for_no_other_storm(PROC_MINFLT_PER_S)  # so that this test's storm is the culprit
        with _running("minor_storm.py", "minor-storm", STORM_NAME, "--mb", "64"):
            code, out, sent = audit()
        assert code == 10, out  # --fail-on-new: the storm is new
        assert storm_keys(sent["new"]) == set(HOSTS) and not storm_keys(sent["resolved"])
        assert receiver.bodies[-1] == sent and len(receiver.bodies) == posts + 1
        assert sent["status"] == "firing" and {a["labels"]["instance"] for a in sent["alerts"]} >= set(HOSTS)
        counts = re.search(r"since the last audit \(#1, [^)]*\): (\d+) new", out)
        assert counts and int(counts.group(1)) >= len(HOSTS), out

        families = _textfile(textfile)
        assert families["pfdiag_audit_problems"][("new",)] >= 3
        for host in HOSTS:
            assert families["pfdiag_host_verdict"][(host, "minor-storm")] == 1
            assert families["pfdiag_host_minor_faults_per_second"][(host,)] > PROC_MINFLT_PER_S
            assert families["pfdiag_host_state"][(host, "ok")] == 1
        assert families["pfdiag_audit_complete"][()] == 1
        assert families["pfdiag_audit_last_success_timestamp_seconds"][()] == pytest.approx(
            time.time(), abs=60
        )

        wait_for_no_other_storm(PROC_MINFLT_PER_S)
        code, out, sent = audit()
        assert code == 0
        assert storm_keys(sent["resolved"]) == set(HOSTS) and not storm_keys(sent["new"])
        assert len(receiver.bodies) == posts + 2 and receiver.bodies[-1] == sent
        resolved = [a for a in sent["alerts"] if a["status"] == "resolved"]
        assert {a["labels"]["instance"] for a in resolved if a["labels"].get("comm") == storm_comm} == set(
            HOSTS
        )

        wait_for_no_other_storm(PROC_MINFLT_PER_S)
        code, out, sent = audit()  # a quiet repeat: nothing new, nothing resolved, nothing sent
        assert code == 0 and not sent and len(receiver.bodies) == posts + 2
        assert "0 new, 0 persisting, 0 resolved, 0 unknown" in out

    history = tmp_path / "reports" / "history.sqlite"  # the documented default place
    rows = history_rows(history, "SELECT id, complete, new, resolved, notify_status FROM runs ORDER BY id")
    assert [(r[0], r[1], r[4]) for r in rows] == [
        (1, 1, "nothing"),
        (2, 1, "sent"),
        (3, 1, "sent"),
        (4, 1, "nothing"),
    ]
    assert rows[1][2] >= 3 and rows[2][3] >= 3
    storm_run = Path(history_rows(history, "SELECT run_dir FROM runs WHERE id = 2")[0][0])
    report = (storm_run / "report.md").read_text()
    assert report.startswith("## Since the last audit\n")
    assert all(f"| {h} | `minor-storm` | {storm_comm} |" in report for h in HOSTS)
    assert storm_keys(json.loads((storm_run / "diff.json").read_text())["new"]) == set(HOSTS)

    assert main(["history", "diff", "--json"]) == 0  # latest (4) against its baseline (3)
    assert json.loads(capsys.readouterr().out)["new"] == []
    assert main(["history", "diff", "1", "2", "--json"]) == 0
    assert storm_keys(json.loads(capsys.readouterr().out)["new"]) == set(HOSTS)
    assert main(["history", "host", "h01", "--json", "--plot", str(tmp_path / "h01.png")]) == 0
    series = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in series] == ["ok", "minor-storm", "ok", "ok"]
    assert (tmp_path / "h01.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _textfile(path: Path) -> dict[str, dict[tuple[str, ...], float]]:
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        assert family.name.startswith("pfdiag_")
        for sample in family.samples:
            families.setdefault(sample.name, {})[tuple(sample.labels.values())] = sample.value
    return families


def _audit_process(tmp_path: Path, history: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO.parent)}
    argv = [sys.executable, "-m", "diag", "audit", "-e", "interval_s=1", "--history", str(history), *extra]
    return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_audits_at_once_on_one_history_both_land(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    procs = [_audit_process(tmp_path, history, "-o", f"run{n}") for n in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 10) and b"Traceback" not in err, err.decode()
    rows = history_rows(history, "SELECT complete, hosts FROM runs ORDER BY id")
    assert rows == [(1, 1), (1, 1)]
    assert history_rows(history, "PRAGMA integrity_check") == [("ok",)]
    # the audit recorded second compares with the one recorded first, whichever started first
    rows = history_rows(history, "SELECT id, baseline_id FROM runs ORDER BY started_ts + duration_s")
    assert [r[1] for r in rows] == [None, rows[0][0]]


def test_an_audit_killed_mid_run_leaves_the_history_intact_and_the_next_audit_works(
    tmp_path: Path, capsys: Any
) -> None:
    history = tmp_path / "h.sqlite"
    first = _audit_process(tmp_path, history)
    assert first.wait(timeout=120) == 0
    victim = _audit_process(tmp_path, history, "-e", "interval_s=5")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the audit has begun its row and is sampling
        if history_rows(history, "SELECT count(*) FROM runs")[0][0] == 2:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert history_rows(history, "PRAGMA integrity_check") == [("ok",)]
    assert history_rows(history, "SELECT id, complete FROM runs ORDER BY id") == [(1, 1), (2, 0)]
    assert history_rows(history, "SELECT count(*) FROM host_results WHERE run_id = 2") == [(0,)]

    after = _audit_process(tmp_path, history)
    out, err = after.communicate(timeout=120)
    assert after.returncode == 0, err.decode()
    assert b"since the last audit (#1, " in out  # the killed audit is no baseline
    assert main(["history", "--history", str(history)]) == 0
    listing = capsys.readouterr().out
    assert "INCOMPLETE" in listing and listing.count("complete") >= 2


def test_retention_prunes_audits_and_their_run_folders(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    history = tmp_path / "h.sqlite"
    for _ in range(3):
        assert main(["audit", "-e", "interval_s=0.5", "--history", str(history), "--keep-runs", "2"]) in (
            0,
            10,
        )
    out = capsys.readouterr().out
    assert "pruned 1 old audit(s): 1" in out
    assert [r[0] for r in history_rows(history, "SELECT id FROM runs ORDER BY id")] == [2, 3]
    assert len(list((tmp_path / "reports").glob("*-audit*"))) == 2


@pytest.mark.workload
def test_an_audit_of_a_busy_but_healthy_host_notifies_nothing_new(
    busy_host: Any, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """Issue 16: an idle shell's children running commands were a new minor-storm at every audit and
    resolved at the next. The per-process lines at the guide's defaults (the host-wide ones and the
    configuration checks of a shared machine out of reach, as above): spikes recorded, nothing sent."""
    monkeypatch.chdir(tmp_path)
    guide_vars = QUIET_VARS.replace(f"proc_minflt_per_s: {PROC_MINFLT_PER_S}", "proc_minflt_per_s: 1000")
    guide_vars = guide_vars.replace("proc_majflt_per_s: 1000000", "proc_majflt_per_s: 10")
    (tmp_path / "busy.yml").write_text(guide_vars.replace("interval_s: 1", "interval_s: 2"))
    with webhook_receiver() as receiver:

        def audit(*extra: str) -> tuple[int, str]:
            argv = ["audit", AUDIT, "-e", "@busy.yml", "--history", "h.sqlite", "--notify-url", receiver.url]
            code = main([*argv, "--fail-on-new", *extra])
            out, err = capsys.readouterr()
            assert "Traceback" not in out + err
            return code, out

        for _ in range(2):
            code, out = audit()
            assert code == 0, out
        assert receiver.bodies == []  # nothing new, nothing resolved: nothing sent
        # the same load with the guide's line as the verdict line: what the audits used to send
        code, out = audit("-e", "proc_minor_ms_per_s=0")
        assert code == 10 and receiver.bodies and receiver.bodies[-1]["new"], out
    checks = history_rows(tmp_path / "h.sqlite", "SELECT DISTINCT check_id, status, severity FROM findings")
    assert ("proc-minor-rate", "fail", "info") in checks  # the spike is recorded, as info
