"""The checklist checks of audit-checks.yml, each on real input where this machine can show it, on a
recorded capture where it cannot.

Real: a process locking 95 % of its own "Max locked memory" (mlock-limit fails naming pid, comm, both
values and LimitMEMLOCK=/limits.conf), this machine's swap, NUMA node count, THP defrag, min_free_kbytes,
buddyinfo and the OOM-kill counter since the previous audit. Captured: ``tests/data/audit/
pfdiag-dev-vm__sample.json`` is this machine's registered sample (recorded 2026-12-01, kernel 6.18,
1 NUMA node, no swap); the failing cases edit the named fields of it in the test (a 2-node host with
zone reclaim, fragmented free memory, compaction stalls, THP defrag=always, direct reclaim, 60 % locked),
which this VM cannot be made to show.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main
from tests.fixtures.workloads import _running, comm_of

REPO = Path(__file__).resolve().parent.parent
AUDIT = str(REPO / "playbooks" / "audit.yml")
CAPTURE = Path(__file__).resolve().parent / "data" / "audit" / "pfdiag-dev-vm__sample.json"


def findings(doc: dict[str, Any], host: str = "localhost") -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in doc["hosts"][host]["findings"]}


def run_json(tmp_path: Path, capsys: Any, *argv: str) -> dict[str, Any]:
    out = tmp_path / "out.json"
    code = main([*argv, "-o", str(tmp_path / "run"), "--json", str(out)])
    output = capsys.readouterr()
    assert code == 0, output
    return json.loads(out.read_text())


@pytest.mark.workload
def test_a_process_at_its_mlock_limit_is_named_with_both_values_and_how_to_raise_it(
    tmp_path: Path, capsys: Any
) -> None:
    args = ("--limit-kib", "8192", "--lock-kib", "7808")
    with _running("mlock_near_limit.py", "ok", "pf mlock audit", *args) as locker:
        doc = run_json(tmp_path, capsys, "run", AUDIT, "-e", "interval_s=1")
    checks = findings(doc)
    limit = checks["mlock-limit"]
    assert limit["status"] == "fail" and limit["value"] == pytest.approx(95.3, abs=0.1)
    assert f"{comm_of('pf mlock audit')}[{locker.pid}]" in limit["message"]
    assert "7.6 MiB" in limit["message"] and "8.0 MiB" in limit["message"]
    listed = checks["mlock-processes"]["evidence"]["processes"]
    assert {"pid": locker.pid, "lck_kib": 7808, "memlock_limit_kib": 8192}.items() <= next(
        p for p in listed if p["pid"] == locker.pid
    ).items()
    [fix] = [r for r in doc["hosts"]["localhost"]["remediation"] if "locked-memory limit" in r["title"]]
    assert "LimitMEMLOCK=" in fix["text"] and "limits.conf" in fix["text"]
    assert f"/proc/{locker.pid}/limits" in fix["commands"][0]
    # the host share is what /proc/meminfo says, against the guide's 50 %
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    share = int(meminfo["Mlocked"].split()[0]) * 100 / int(meminfo["MemTotal"].split()[0])
    assert checks["mlock-host"]["value"] == pytest.approx(share, abs=0.5)
    assert checks["mlock-host"]["threshold"] == 50 and checks["mlock-host"]["status"] == "pass"


def test_configuration_checks_read_this_machines_real_settings(tmp_path: Path, capsys: Any) -> None:
    swaps_before = Path("/proc/swaps").read_text().splitlines()[1:]
    doc = run_json(tmp_path, capsys, "run", AUDIT, "-e", "interval_s=1")
    checks = findings(doc)
    sampled = doc["hosts"]["localhost"]["sample"]["swaps"]
    assert checks["swap-configured"]["status"] == ("pass" if sampled else "fail")
    assert checks["swap-configured"]["evidence"]["devices"] == sampled
    if (
        Path("/proc/swaps").read_text().splitlines()[1:] == swaps_before
    ):  # (another test's swap file comes and goes)
        assert [s["device"] for s in sampled] == [line.split()[0] for line in swaps_before]
    nodes = len(list(Path("/sys/devices/system/node").glob("node[0-9]*"))) or 1
    if nodes == 1:
        for check in ("numa-zone-reclaim", "numa-miss"):
            assert checks[check]["status"] == "skip" and checks[check]["reason"] == "single NUMA node"
    defrag = Path("/sys/kernel/mm/transparent_hugepage/defrag").read_text()
    assert checks["thp-defrag"]["status"] == ("fail" if "[always]" in defrag else "pass")
    min_free = int(Path("/proc/sys/vm/min_free_kbytes").read_text())
    assert checks["min-free-kbytes"]["value"] == min_free
    assert checks["fragmentation"]["status"] in ("pass", "fail") and checks["fragmentation"]["value"] > 0
    for check in ("compaction-stalls", "direct-reclaim", "thp-fallback", "swap-activity", "numa-hint-faults"):
        assert checks[check]["status"] in ("pass", "fail"), checks[check]
    assert checks["oom-kills"]["status"] == "skip" and "no previous audit" in checks["oom-kills"]["reason"]


def test_oom_kills_are_counted_since_the_previous_audit_of_the_host(
    tmp_path: Path, capsys: Any, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for n in range(2):
        code = main(["audit", "-e", "interval_s=0.5", "--history", "h.sqlite", "--json", f"a{n}.json"])
        assert code in (0, 2, 10), capsys.readouterr()
    capsys.readouterr()
    first, second = (
        findings(json.loads((tmp_path / f"a{n}.json").read_text()))["oom-kills"] for n in range(2)
    )
    vmstat = dict(line.split() for line in Path("/proc/vmstat").read_text().splitlines())
    assert first["status"] == "skip" and first["evidence"]["oom_kill_total"] <= int(vmstat["oom_kill"])
    assert second["status"] in ("pass", "fail") and second["value"] == (
        second["evidence"]["oom_kill_total"] - first["evidence"]["oom_kill_total"]
    )


def _run_capture(
    tmp_path: Path, capsys: Any, sample: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    (tmp_path / "capture.yml").write_text(json.dumps({"s_capture": sample}))
    (tmp_path / "pb.yml").write_text(
        "- hosts: all\n  vars_files: [capture.yml]\n  tasks:\n"
        '    - set_fact: {s: "{{ s_capture }}"}\n'
        f"- import_playbook: {REPO / 'playbooks' / 'audit-checks.yml'}\n"
    )
    doc = run_json(tmp_path, capsys, "run", str(tmp_path / "pb.yml"))
    return findings(doc), doc["hosts"]["localhost"]


def test_the_recorded_sample_of_this_vm_passes_every_warning_check(tmp_path: Path, capsys: Any) -> None:
    checks, _ = _run_capture(tmp_path, capsys, json.loads(CAPTURE.read_text()))
    failing = {c for c, f in checks.items() if f["status"] == "fail" and f["severity"] != "info"}
    assert failing == set()
    assert checks["fragmentation"]["value"] == pytest.approx(14.56, abs=0.01)  # 3.4 GiB in >= 64 KiB blocks
    assert checks["numa-zone-reclaim"]["reason"] == "single NUMA node"


def test_a_stressed_two_node_host_fails_each_check_with_its_remediation_and_evidence(
    tmp_path: Path, capsys: Any
) -> None:
    sample = copy.deepcopy(json.loads(CAPTURE.read_text()))
    sample["numa"] = {"nodes": 2}
    sample["facts"] |= {
        "zone_reclaim_mode": 1,
        "thp_defrag": "always",
        "numa_balancing": 1,
        "min_free_kbytes": 2048,
    }
    sample["rates"] |= {
        "numa_miss_per_s": 5000.0,
        "numa_foreign_per_s": 5000.0,
        "numa_hint_faults_per_s": 3000.0,
        "compact_stall_per_s": 20.0,
        "compact_fail_per_s": 15.0,
        "compact_success_per_s": 5.0,
        "thp_fault_fallback_per_s": 50.0,
        "pgscan_direct_per_s": 3000.0,
        "allocstall_per_s": 40.0,
        "pswpout_per_s": 200.0,
    }
    total = sample["memory"]["mem_total_kib"]
    sample["memory"] |= {"mlocked_kib": total * 6 // 10, "mlocked_pct": 60.0, "unevictable_pct": 85.0}
    # free memory only in order 0-3 blocks: nothing of 64 KiB or more
    sample["buddyinfo"] = {
        "zones": [
            {"node": n, "zone": "Normal", "free": [9000, 4000, 800, 100, 0, 0, 0, 0, 0, 0, 0]} for n in (0, 1)
        ],
        "free_pages_by_order": [18000, 8000, 1600, 200, 0, 0, 0, 0, 0, 0, 0],
        "high_order_free_kib": 0,
    }
    checks, host = _run_capture(tmp_path, capsys, sample)
    expected_fail = {
        "mlock-host": "warning",
        "unevictable-host": "critical",
        "swap-activity": "warning",
        "numa-zone-reclaim": "warning",
        "numa-miss": "warning",
        "numa-hint-faults": "warning",
        "compaction-stalls": "warning",
        "compaction-failures": "warning",
        "fragmentation": "warning",
        "thp-defrag": "warning",
        "thp-fallback": "warning",
        "direct-reclaim": "warning",
        "min-free-kbytes": "info",
    }
    assert {c: checks[c]["status"] for c in expected_fail} == dict.fromkeys(expected_fail, "fail")
    assert {c: checks[c]["severity"] for c in expected_fail} == expected_fail
    assert checks["compaction-failures"]["value"] == 75.0
    assert checks["numa-zone-reclaim"]["evidence"]["numa_nodes"] == 2
    titles = " | ".join(r["title"] for r in host["remediation"])
    for words in ("memory is locked", "swapping out", "NUMA placement", "compaction", "direct reclaim"):
        assert words in titles, titles
    numa = next(r for r in host["remediation"] if "NUMA" in r["title"])
    assert "zone_reclaim_mode=1" in numa["text"] and "numa_miss 5,000/s" in numa["text"]


def test_a_check_without_its_signal_is_skipped_with_the_reason(tmp_path: Path, capsys: Any) -> None:
    sample = copy.deepcopy(json.loads(CAPTURE.read_text()))
    del sample["buddyinfo"], sample["numa"]
    for key in ("compact_stall_per_s", "compact_fail_per_s", "compact_success_per_s", "numa_miss_per_s"):
        sample["rates"][key] = None
    sample["not_evaluable"] = {
        "buddyinfo": "/proc/buddyinfo unreadable",
        "compact_stall_per_s": "no compaction",
    }
    checks, _ = _run_capture(tmp_path, capsys, sample)
    assert (checks["fragmentation"]["status"], checks["fragmentation"]["reason"]) == (
        "skip",
        "/proc/buddyinfo unreadable",
    )
    assert (checks["compaction-stalls"]["status"], checks["compaction-stalls"]["reason"]) == (
        "skip",
        "no compaction",
    )
    assert checks["numa-miss"]["status"] == "skip"
