"""The probe's memcg line, as the awk writes it for cgroup v1 and v2 hosts (canned: this machine is v1)."""

import pytest

from diag.probe.memcg import parse_memcg
from diag.shared.errors import ParseError


def test_v1_memcg_at_its_limit_reports_usage_pct_and_failcnt_hits():
    cg = parse_memcg("memcg 1 limit=67108864 usage=67059712 hits=48211 oom_kill=0 path=/pfdiag-test-1")
    assert (cg.version, cg.path, cg.limit_kib, cg.usage_kib) == (1, "/pfdiag-test-1", 65536, 65488)
    assert cg.usage_pct == 99.9
    assert cg.limit_hits == 48211 and cg.oom_kills == 0


def test_v1_unlimited_cgroup_has_no_limit_and_no_usage_pct():
    cg = parse_memcg("memcg 1 limit=9223372036854771712 usage=525885440 hits=0 oom_kill=0 path=/api/4b75")
    assert cg.limit_kib is None
    assert cg.usage_pct is None
    assert cg.usage_kib == 513560


def test_v2_memcg_reads_max_high_and_events():
    cg = parse_memcg(
        "memcg 2 limit=536870912 high=max usage=530579456 hits=17 oom_kill=2 path=/system.slice/app.service"
    )
    assert (cg.limit_kib, cg.high_kib, cg.limit_hits, cg.oom_kills) == (524288, None, 17, 2)
    assert cg.usage_pct == 98.8


def test_v2_unlimited_max_and_missing_files_are_none_not_zero():
    cg = parse_memcg("memcg 2 limit=max high= usage= hits= oom_kill= path=/user.slice/user-0.slice")
    assert (cg.limit_kib, cg.high_kib, cg.usage_kib, cg.limit_hits, cg.oom_kills) == (None,) * 5


def test_cgroup_path_with_spaces_is_kept_whole():
    cg = parse_memcg("memcg 2 limit=1048576 high=max usage=4096 hits=0 oom_kill=0 path=/my app/x y")
    assert cg.path == "/my app/x y"


@pytest.mark.parametrize("line", ["memcg", "memcg 3 limit=1 path=/", "memcg 1 limit=1", "cgroup 0::/"])
def test_malformed_memcg_line_is_a_parse_error_quoting_it(line):
    with pytest.raises(ParseError, match="memcg"):
        parse_memcg(line)
