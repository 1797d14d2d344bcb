"""The deep dive's records on a recorded ``deepdive.sh`` output (tests/data/deepdive): parsed into records,
classified without touching the profile, carried through the JSON and back, and rendered from what
was loaded."""

from __future__ import annotations

import json
from pathlib import Path

from diag.findings import HostResult, RunResult
from diag.playbook.modules.profile import classified, classify
from diag.probe.deepdive import GONE, Profile, build_profile
from diag.probe.perf_report import parse_deepdive
from diag.report.deepdive import deepdive_section
from diag.shared.records import from_data, to_data

CAPTURE = Path(__file__).resolve().parents[1] / "data" / "deepdive" / "minor-storm.txt"
PID, GONE_PID = 9916, 4194000
# the keys of one element of --json's "profiles" (README "JSON output"), in order
PROFILE_KEYS = [
    "pid", "comm", "exe", "interval_s", "perf", "counts", "symbols", "chains", "targets", "memory",
    "mappings", "headlines", "bpftrace", "not_evaluable", "hotspot",
    "minflt_per_s", "majflt_per_s", "verdict",
]  # fmt: skip


def storm() -> Profile:
    return build_profile(parse_deepdive(CAPTURE.read_text()), PID, 1.0)


def test_classify_leaves_the_profile_as_it_was() -> None:
    profile = storm()
    before = to_data(profile)
    assert classify(profile, 1000, 10) == "minor-storm"
    assert to_data(profile) == before  # it used to write the rates into its argument


def test_classified_carries_the_verdict_and_perf_counted_rates() -> None:
    profile = classified(storm(), 1000, 10)
    assert (profile.verdict, profile.minflt_per_s, profile.majflt_per_s) == ("minor-storm", 28982.0, 0.0)
    assert classified(storm(), 50000, 10).verdict == "ok"
    assert profile.hotspot is not None and profile.hotspot.symbol == "mmap_ass_subscript"
    assert profile.hotspot.event == "page-faults" and profile.hotspot.file is None  # //anon is no file
    assert profile.memory.rss_kib == 22588 and profile.memory.lck_kib == 0
    assert profile.headlines[0].startswith("100 % of minor faults in `mmap_ass_subscript`")


def test_a_gone_process_is_not_evaluable_and_has_no_rates() -> None:
    gone = classified(build_profile(parse_deepdive(CAPTURE.read_text()), GONE_PID, 1.0), 1000, 10)
    assert not gone.perf.usable and gone.perf.reason == GONE
    assert (gone.verdict, gone.minflt_per_s, gone.comm) == ("not-evaluable", None, None)


def test_a_profile_round_trips_through_records_and_json_with_the_documented_keys() -> None:
    profile = classified(storm(), 1000, 10)
    data = json.loads(json.dumps(to_data(profile)))
    assert list(data) == PROFILE_KEYS
    assert data["hotspot"] == {
        "pct": 100.0,
        "dso": "/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/mmap.cpython-311-x86_64-linux-gnu.so",
        "symbol": "mmap_ass_subscript",
        "kernel": False,
        "event": "page-faults",
        "file": None,
    }
    assert data["chains"] == {"page-faults": [{"pct": 100.0, "chain": ["mmap_ass_subscript"]}]}
    assert data["perf"]["usable"] is True and data["counts"]["minor_faults"] == 28982
    assert from_data(Profile, data) == profile


def test_a_saved_host_with_profiles_loads_and_renders_as_the_live_one() -> None:
    live = HostResult("web1", profiles=[classified(storm(), 1000, 10)])
    saved = json.loads(json.dumps(live.to_dict()))
    loaded = HostResult.from_dict(saved)
    assert loaded.profiles == live.profiles and loaded.to_dict() == live.to_dict()
    run = RunResult(playbook="deepdive", inventory=[], limit=None, started="", hosts=[live])
    text = "\n".join(deepdive_section(run))
    assert "`mmap_ass_subscript`" in text and "Memory: RSS 22.1 MiB" in text
    assert text == "\n".join(deepdive_section(RunResult("deepdive", [], None, "", hosts=[loaded])))
