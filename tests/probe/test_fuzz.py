"""Property-based fuzz of every probe parser and of parse_probe (hypothesis).

Arbitrary text, and real probe outputs mangled the ways damaged recordings are (cut short, lines garbled,
counters negative or going down), must give a record or a ``ParseError`` that quotes what it could not
read -- never another exception. A record parsed from damaged output never holds a negative rate.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diag.probe import parse_probe
from diag.probe.buddyinfo import parse_buddyinfo
from diag.probe.diskstats import parse_diskstats
from diag.probe.facts import parse_facts_lines
from diag.probe.memcg import parse_memcg
from diag.probe.meminfo import parse_meminfo
from diag.probe.numa import parse_node_list
from diag.probe.perfstat import parse_perf_counters
from diag.probe.pidstat import (
    parse_cgroup_path,
    parse_children_row,
    parse_locked_row,
    parse_memlock_limit_kib,
    parse_proc_row,
    parse_stat,
    parse_status_kib,
)
from diag.probe.pressure import parse_pressure
from diag.probe.sample import EXAMPLE, _totals
from diag.probe.sections import split_sections
from diag.probe.swaps import parse_swaps
from diag.probe.vmstat import parse_vmstat
from diag.shared.errors import ParseError
from tests.fixtures.hosts_jsonl import read_host_lines

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
# Kept small so the suite stays quick on 2 shared cores; PFDIAG_FUZZ_EXAMPLES=2000 for a long hunt.
EXAMPLES = int(os.environ.get("PFDIAG_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def recorded_outputs() -> list[str]:
    """The raw probe outputs of the recorded runs (real hosts), plus the module's example."""
    outputs = [EXAMPLE]
    for path in sorted(RUNS.glob("*/hosts.jsonl")):
        for entry in read_host_lines(path.parent):
            raw = entry.get("raw")
            if raw and raw.startswith("@@pfdiag probe"):
                outputs.append(raw)
                break
    return outputs


OUTPUTS = recorded_outputs()

# Text that looks like /proc: words, numbers (negative, huge, non-ASCII digits), colons, parens, kB.
TOKENS = st.one_of(
    st.sampled_from(["kB", ":", "(", ")", "=", ",", "-", "Node", "zone", "some", "full", "avg10=1.0",
                     "total=5", "proc", "children", "locked", "memcg", "path=/", "\t", "²", "١٢", "nan",
                     "inf", "0x1f"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(min_size=0, max_size=8),
)  # fmt: skip
LINE = st.lists(TOKENS, max_size=10).map(" ".join)
LINES = st.lists(LINE, max_size=6)

LINE_PARSERS: dict[str, Callable[[list[str]], Any]] = {
    "vmstat": parse_vmstat,
    "meminfo": parse_meminfo,
    "diskstats": parse_diskstats,
    "pressure": parse_pressure,
    "swaps": parse_swaps,
    "buddyinfo": parse_buddyinfo,
    "numa": parse_node_list,
    "status": parse_status_kib,
    "facts": parse_facts_lines,
    "perf": parse_perf_counters,
}
ROW_PARSERS: dict[str, Callable[[str], Any]] = {
    "stat": parse_stat,
    "proc": parse_proc_row,
    "children": parse_children_row,
    "locked": parse_locked_row,
    "memcg": parse_memcg,
    "memlock": parse_memlock_limit_kib,
    "cgroup": parse_cgroup_path,
    "totals": _totals,
}
PREFIXES = {
    "proc": "proc ",
    "children": "children ",
    "locked": "locked ",
    "memcg": "memcg ",
    "totals": "totals ",
}


def record_or_parse_error(call: Callable[[], Any]) -> Any:
    """Run a parser: its record, or None after a ParseError that says where and what."""
    try:
        return call()
    except ParseError as exc:
        assert exc.render().strip()
        return None


@pytest.mark.parametrize("name", sorted(LINE_PARSERS))
@FUZZ
@given(lines=LINES)
def test_line_parsers_give_a_record_or_a_parse_error(name: str, lines: list[str]) -> None:
    record_or_parse_error(lambda: LINE_PARSERS[name](lines))


@pytest.mark.parametrize("name", sorted(ROW_PARSERS))
@FUZZ
@given(line=LINE)
def test_row_parsers_give_a_record_or_a_parse_error_quoting_the_row(name: str, line: str) -> None:
    row = PREFIXES.get(name, "") + line
    try:
        ROW_PARSERS[name](row)
    except ParseError as exc:
        assert repr(row[:200])[1:-1][:40] in exc.render() or repr(row)[1:-1][:40] in exc.render()


@FUZZ
@given(text=st.text(max_size=400))
def test_arbitrary_text_is_never_a_probe_output_but_never_a_crash(text: str) -> None:
    record_or_parse_error(lambda: split_sections(text))
    assert record_or_parse_error(lambda: parse_probe(text)) is None or text.startswith("@@pfdiag probe")


def check_sample(text: str) -> None:
    sample = record_or_parse_error(lambda: parse_probe(text))
    if sample is None:
        return
    data = sample.view()
    json.dumps(data)  # the JSON export never meets a value it cannot write
    for key, value in data["rates"].items():
        assert value is None or (value >= 0 and math.isfinite(value)), (key, value)
    for proc in data["processes"]:
        assert all(proc[k] is None or proc[k] >= 0 for k in proc if k.endswith(("_per_s", "_delta")))


@FUZZ
@given(which=st.sampled_from(range(len(OUTPUTS))), cut=st.floats(min_value=0, max_value=1))
def test_a_probe_output_cut_anywhere_is_a_record_or_a_parse_error(which: int, cut: float) -> None:
    text = OUTPUTS[which]
    check_sample(text[: int(len(text) * cut)])


@FUZZ
@given(which=st.sampled_from(range(len(OUTPUTS))), data=st.data())
def test_garbled_lines_give_a_record_or_a_parse_error(which: int, data: st.DataObject) -> None:
    lines = OUTPUTS[which].splitlines()
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        i = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
        lines[i] = data.draw(st.one_of(LINE, st.just(lines[i][: len(lines[i]) // 2]), st.just("")))
    check_sample("\n".join(lines) + "\n")


@FUZZ
@given(which=st.sampled_from(range(len(OUTPUTS))), data=st.data())
def test_negative_and_decreasing_counters_never_give_a_negative_rate(which: int, data: st.DataObject) -> None:
    text = OUTPUTS[which]
    numbers = list(re.finditer(r"(?<![\w.-])\d+(?![\w.])", text))
    picked = data.draw(st.sets(st.integers(min_value=0, max_value=len(numbers) - 1), max_size=30))
    out, last = [], 0
    for i, match in enumerate(numbers):
        if i in picked:
            value = int(match.group())
            new = data.draw(st.sampled_from([-value - 1, value // 2, 0, -(2**63)]))
            out += [text[last : match.start()], str(new)]
            last = match.end()
    check_sample("".join(out) + text[last:])
