"""Report tests over fleets built from recorded real runs (tests/report/fleets.py).

Golden files: tests/data/golden/<fleet>.md, compared byte for byte. Regenerate them after an intended
change with ``PFDIAG_UPDATE_GOLDEN=1 pytest tests/report`` and review the diff.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from diag.findings import RunResult
from diag.fleet import build_fleet
from diag.report.markdown import render_markdown
from diag.shared.hostlist import fold_hosts
from tests.report.fleets import FLEETS, mixed_fleet, thousand_fleet

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
UPDATE = os.environ.get("PFDIAG_UPDATE_GOLDEN") == "1"
_CACHE: dict[str, RunResult] = {}


def fleet(name: str) -> RunResult:
    if name not in _CACHE:
        _CACHE[name] = FLEETS[name]()
    return _CACHE[name]


def tables(markdown: str) -> list[tuple[int, list[int]]]:
    """Each table markdown-it finds: (header cells, cells of every body row)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    found: list[tuple[int, list[int]]] = []
    cells, in_head = 0, False
    for token in tokens:
        if token.type == "table_open":
            found.append((0, []))
        elif token.type == "thead_open":
            in_head = True
        elif token.type == "thead_close":
            in_head = False
        elif token.type == "tr_open":
            cells = 0
        elif token.type in ("th_open", "td_open"):
            cells += 1
        elif token.type == "tr_close":
            head, rows = found[-1]
            found[-1] = (cells, rows) if in_head else (head, [*rows, cells])
    return found


@pytest.mark.parametrize("name", sorted(FLEETS))
def test_report_matches_golden_file(name: str) -> None:
    text = render_markdown(fleet(name))
    golden = GOLDEN / f"{name}.md"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run PFDIAG_UPDATE_GOLDEN=1 pytest tests/report"
    assert text == golden.read_text(encoding="utf-8"), f"{golden} differs (PFDIAG_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("name", sorted(FLEETS))
def test_every_table_parses_as_a_table_with_full_rows(name: str) -> None:
    text = render_markdown(fleet(name))
    separators = [line for line in text.splitlines() if line.startswith("|-")]
    found = tables(text)
    assert len(found) == len(separators) > 0
    for head, rows in found:
        assert rows and all(cells == head for cells in rows), (head, rows)


def test_first_screen_says_what_where_how_bad_and_what_first() -> None:
    text = render_markdown(fleet("fleet1000"))
    first = text.split("## Fleet rates")[0]
    assert "**27 of 1,000 hosts have a page-fault problem:**" in first
    assert "Worst: **major-swap** on db[017-019]" in first
    assert "Most widespread: `java` minor-storm on 20 of 600 web hosts." in first
    assert "First: Give the working set memory, or cap whoever takes it" in first
    assert "| ok " in first and "| not run: unreachable" in first
    assert len(first.splitlines()) < 20


def test_sections_come_in_on_call_order() -> None:
    text = render_markdown(fleet("mixed"))
    order = ["## Verdicts", "## Fleet rates", "## Outliers", "## Fleet-wide culprits",
             "## Remediation by verdict", "## Hosts not evaluated", "## Host details", "## Run"]  # fmt: skip
    positions = [text.index(title) for title in order]
    assert positions == sorted(positions)


def test_mixed_fleet_has_every_verdict_and_failure_state() -> None:
    view = build_fleet(fleet("mixed"))
    assert set(view.counts("verdict")) == {"ok", "minor-storm", "major-swap", "major-file", "not-evaluable"}
    assert set(view.counts("state")) == {
        "ok",
        "unreachable",
        "auth-failed",
        "hostkey-changed",
        "hostkey-unknown",
    }


def test_storming_web_host_stands_out_from_its_group_and_quiet_ones_do_not() -> None:
    view = build_fleet(fleet("mixed"))
    hosts = view.hosts.set_index("host")
    assert hosts.at["web07", "outlier"] and hosts.at["web07", "peers"] == "group web"
    assert hosts.at["web07", "minflt_per_s_z"] > 3.5
    assert not hosts.loc[[f"web0{n}" for n in range(1, 7)], "outlier"].any()
    # db has 3 evaluated hosts: fewer than 5 peers, so they are compared with the whole fleet.
    assert hosts.at["db02", "peers"] == "fleet"


def test_same_command_on_many_hosts_is_one_culprit_row_with_a_folded_range() -> None:
    view = build_fleet(fleet("fleet1000"))
    java = view.culprits[view.culprits["comm"].eq("java")].iloc[0]
    assert (java["verdict"], java["hosts"], java["of_hosts"], java["scope"]) == (
        "minor-storm",
        20,
        600,
        "web hosts",
    )
    assert java["host_range"] == "web[007-016,233,401-408,512]"
    text = render_markdown(fleet("fleet1000"))
    assert text.count("Give the working set memory") == 2  # headline + once for the 3 swap hosts


def test_big_fleet_sections_are_capped_with_a_pointer_to_the_exports() -> None:
    text = render_markdown(fleet("fleet1000"))
    assert text.count("\n### ") == 3 + 20  # three remediation groups, 20 host details
    assert "8 more hosts with a problem: every host is in hosts.csv" in text
    assert "966 ok host(s)" in text


def test_fold_hosts_keeps_padding_and_sorts_prefixes() -> None:
    assert fold_hosts(["web01", "web02", "web03", "web05", "db1"]) == "db1,web[01-03,05]"
    assert fold_hosts(["web009", "web010", "web011"]) == "web[009-011]"
    assert fold_hosts(["a", "a"]) == "a"


def test_rendering_1000_hosts_takes_well_under_a_second_of_cpu() -> None:
    run = thousand_fleet()
    start = time.process_time()
    render_markdown(run, build_fleet(run))
    assert time.process_time() - start < 1.0


def test_report_is_deterministic() -> None:
    assert render_markdown(mixed_fleet()) == render_markdown(mixed_fleet())
