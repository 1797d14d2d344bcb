"""Text from hosts on the operator's screen and in reports: a real process names itself with terminal
escapes, a forged line or backslashes (``prctl(PR_SET_NAME)``, as any user can), makes faults, and a
real triage, audit and watch of this machine show its name escaped on the terminal, in report.md and
in the watch's timeline, while the JSON, events.jsonl and the history keep the exact name.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from diag.shared.escape import (
    escape_lines,
    escape_markdown,
    escape_terminal,
    md_cell,
    md_code,
    md_fence,
    md_with_code,
)
from tests.fixtures.terminal import on_a_terminal
from tests.fixtures.workloads import _running, comm_of

REPO = Path(__file__).resolve().parent.parent
TRIAGE = str(REPO / "playbooks" / "triage.yml")
# sets the window title to PWN and clears the screen, if printed raw
TITLE_AND_CLEAR = "\x1b]0;PWN\x07\x1b[2J"
# a line of its own that reads like the watch's, if printed raw (15 bytes: all of it is kept)
FORGED_LINE = "\x1b[2J\nALERT fake"
# backslashes the probe's awk must double (mawk did not): came back as b<newline>\q
BACKSLASHES = "b\\n\\\\q"
# raw HTML, a link, emphasis and a table pipe, if written raw into markdown (15 bytes)
MARKDOWN = "<b>[x](y)|*z*`"
NAMES = {"title-and-clear": TITLE_AND_CLEAR, "forged-line": FORGED_LINE, "backslashes": BACKSLASHES}


# what a host could put in a name, a path or a line of stderr to drive a terminal or a markdown view
HOSTILE = [
    TITLE_AND_CLEAR,
    FORGED_LINE,
    BACKSLASHES,
    MARKDOWN,
    "\x9b2J\x7f\x00\r\t\x0b\x0c\x85\u2028\u202eevil\u200b\ufeff\udcff",
    "<img src=x onerror=alert(1)> <!-- hide the rest",
    "[click](http://x) ![i](x) [r][1] <http://x> <a@b.c>",
    "*a* _b_ **c** __d__ ~~e~~ ~f~ x_y_z a*b*c",
    "`code` ``two`` ` lone",
    "a|b\\|c &amp; &#60; &x",
    "# h > q - li 1. x",
    " padded ",
    "\\*not emphasis\\* \\",
    "日本語 é ok",
]


def test_terminal_text_is_one_printable_line_that_reads_back_as_the_exact_value() -> None:
    every_char = "".join(map(chr, range(0x3000))) + "\U0001f600\U000e0001\U0010ffff"
    for value in [*HOSTILE, every_char]:
        shown = escape_terminal(value)
        assert shown.isprintable() and "\n" not in shown
        assert ast.literal_eval('"' + shown.replace('"', '\\"') + '"') == value  # nothing is ambiguous


def test_lines_keep_their_breaks_and_nothing_else() -> None:
    assert escape_lines("a\x1b\nb\r") == "a\\x1b\nb\\r"


def _inline_text(markdown: str) -> str:
    """What a reader sees of one paragraph or table row: text and code, and nothing else allowed."""
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)
    seen = []
    for token in (t for t in tokens if t.type == "inline"):
        for child in token.children or []:
            assert child.type in ("text", "code_inline"), (child.type, markdown)
            seen.append(child.content)
    return "".join(seen)


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_markdown_renders_host_text_exactly_as_the_terminal_shows_it(value: str) -> None:
    shown = escape_terminal(value)
    assert _inline_text(f"x: {escape_markdown(value)} y") == f"x: {shown} y"  # in a paragraph
    assert _inline_text(f"x: {md_code(value)}") == f"x: {shown}"  # as inline code
    row = f"| h | x | y |\n|---|---|---|\n| {md_cell(value)} | {md_cell(md_code(value))} | "
    row += md_cell(md_with_code(f"in `{value.replace('`', '')}` or {value}")) + " |\n"
    sentence = f"in {escape_terminal(value.replace('`', ''))} or {shown}"
    # three cells, each whole (a cell is trimmed); in a sentence that marks names with backticks, a
    # backtick of the value's own can only pair up with another (inert, but not exact)
    rendered = _inline_text(row)
    assert rendered == f"hxy{shown.strip()}{shown}{sentence.strip()}" or "`" in value
    tokens = MarkdownIt("commonmark").parse("\n".join(["x", "", *md_fence([value, "```", "~~~"]), "y"]))
    fences = [t for t in tokens if t.type == "fence"]
    assert [t.content for t in fences] == [f"{shown}\n```\n~~~\n"]  # a line of it closes no fence


def pfdiag(cwd: Path, *argv: str, timeout_s: float = 120) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "diag", *argv], capture_output=True, env=env, cwd=cwd, timeout=timeout_s
    )


def assert_inert(text: str, name: str) -> None:
    """No byte of the name that drives a terminal or starts a line, and the name shown escaped."""
    for raw in ("\x1b", "\x07"):
        assert raw not in text, f"raw {raw!r} in {text!r}"
    assert not any(line.startswith("ALERT fake") for line in text.splitlines())
    assert escape_terminal(comm_of(name)) in text


@pytest.mark.workload
@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_a_hostile_process_name_is_escaped_on_the_terminal_and_in_report_md_and_exact_in_json(
    name: str, tmp_path: Path
) -> None:
    with _running("minor_storm.py", "minor-storm", name, "--mb", "64") as storm:
        run = pfdiag(
            tmp_path, "run", TRIAGE, "-v", "-e", "interval_s=1", "-o", "run", "--json", "result.json"
        )
    out = run.stdout.decode() + run.stderr.decode()
    assert run.returncode == 0, out
    host = json.loads((tmp_path / "result.json").read_text())["hosts"]["localhost"]
    seen = next(p for p in host["top_processes"] if p["pid"] == storm.pid)
    assert seen["comm"] == storm.comm == comm_of(name)  # the exact name, backslashes included
    assert_inert(out, name)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "\x1b" not in report and "\x07" not in report
    assert not any(line.startswith("ALERT fake") for line in report.splitlines())
    assert f"`{escape_terminal(storm.comm)}`" in report  # the culprits table, as inline code
    rendered = pfdiag(tmp_path, "report", "run")
    assert rendered.returncode == 0 and "\x1b" not in rendered.stdout.decode()
    piped = pfdiag(tmp_path, "report", "run", "--format", "csv").stdout.decode()
    assert storm.comm in piped  # a CSV into a pipe or a file is exact...
    code, screen = on_a_terminal(tmp_path, "report", "run", "--format", "csv")
    assert code == 0 and "\x1b" not in screen and "\x07" not in screen  # ...and escaped on a screen


@pytest.mark.workload
def test_a_process_name_with_markdown_in_it_renders_as_plain_text_in_report_md(tmp_path: Path) -> None:
    with _running("minor_storm.py", "minor-storm", MARKDOWN, "--mb", "64") as storm:
        run = pfdiag(tmp_path, "run", TRIAGE, "-e", "interval_s=1", "-o", "run", "--json", "result.json")
    assert run.returncode == 0, run.stderr.decode()
    host = json.loads((tmp_path / "result.json").read_text())["hosts"]["localhost"]
    assert storm.comm in {p["comm"] for p in host["top_processes"]}
    report = (tmp_path / "run" / "report.md").read_text()
    tokens = MarkdownIt("commonmark").enable("table").parse(report)
    inline = [t for t in tokens if t.type == "inline"]
    kinds = {c.type for t in inline for c in t.children or []}
    assert not kinds & {"html_inline", "link_open", "em_open", "strong_open"} - {
        c.type
        for t in MarkdownIt("commonmark").enable("table").parse(report.replace(storm.comm, "x"))
        if t.type == "inline"
        for c in t.children or []
    }  # the name adds no HTML, link or emphasis of its own
    # wherever the name is (headline, tables, details), rendered it reads as the name itself, whole
    # (a pipe in it splits no cell, a backtick ends no code span)
    places = [t for t in inline if "b>[x" in t.content]
    assert len(places) >= 3
    for token in places:
        text = "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))
        assert storm.comm in text, token.content


@pytest.mark.workload
def test_history_and_since_the_last_audit_show_a_hostile_name_escaped(tmp_path: Path) -> None:
    with _running("minor_storm.py", "minor-storm", FORGED_LINE, "--mb", "64") as storm:
        audit = pfdiag(tmp_path, "audit", "-e", "interval_s=1", "-o", "run", "--notify", "exit 3")
    out = audit.stdout.decode() + audit.stderr.decode()
    assert audit.returncode in (0, 2), out
    assert "\x1b" not in out and "notification: failed" in out
    report = (tmp_path / "run" / "report.md").read_text()
    since = report.split("## Since the last audit", 1)[1].split("\n## ", 1)[0]
    assert escape_terminal(storm.comm).replace("\\", "\\\\") in since  # markdown: \x1b as \\x1b
    assert "\x1b" not in report
    for argv in (["show", "1"], ["diff", "1"], ["host", "localhost"], []):
        shown = pfdiag(tmp_path, "history", *argv)
        text = shown.stdout.decode() + shown.stderr.decode()
        assert "\x1b" not in text and not any(line.startswith("ALERT fake") for line in text.splitlines())
    show = pfdiag(tmp_path, "history", "show", "1")
    assert escape_terminal(storm.comm) in show.stdout.decode()
    exact = json.loads(pfdiag(tmp_path, "history", "show", "1", "--json").stdout)
    assert storm.comm in {p["comm"] for p in exact["problems"]}


def watch_argv(pid: int) -> list[str]:
    return ["watch", "--every", "0.5", "--count", "5", "-e", "proc_minflt_per_s=1000", "--pid", str(pid)]


@pytest.mark.workload
@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_the_watch_shows_a_hostile_name_escaped_in_event_lines_and_the_timeline(
    name: str, tmp_path: Path
) -> None:
    with _running("minor_storm.py", "minor-storm", name, "--mb", "64") as storm:
        watch = pfdiag(tmp_path, *watch_argv(storm.pid), "-o", "run")
    lines = watch.stdout.decode()
    assert watch.returncode == 0, lines + watch.stderr.decode()
    assert " ALERT    localhost pid " in lines
    assert_inert(lines, name)
    events = [json.loads(x) for x in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    alert = next(e for e in events if e["type"] == "alert" and e["pid"] == storm.pid)
    assert alert["comm"] == storm.comm  # exact, backslashes included
    timeline = pfdiag(tmp_path, "report", "run").stdout.decode()
    assert_inert(timeline, name)


@pytest.mark.workload
def test_the_live_table_on_a_terminal_is_not_cleared_or_retitled_by_a_process_name(tmp_path: Path) -> None:
    with _running("minor_storm.py", "minor-storm", TITLE_AND_CLEAR, "--mb", "64") as storm:
        code, text = on_a_terminal(tmp_path, *watch_argv(storm.pid), "-o", str(tmp_path / "run"))
    assert code == 0, text
    assert text.count("\x1b[H\x1b[2J") >= 3  # the table is redrawn in place...
    own = text.replace("\x1b[H\x1b[2J", "")
    assert "\x1b" not in own and "\x07" not in own  # ...and nothing else moves the cursor or titles
    assert escape_terminal(storm.comm)[:16] in own  # the comm column, 16 wide


def test_a_failed_host_whose_stderr_holds_escapes_is_reported_escaped_everywhere(tmp_path: Path) -> None:
    """The failure path: what a host printed on stderr is in the host's reason (the table, the
    ``unreachable:``/``failed:`` lines, the ``-v`` lines, report.md) and the JSON keeps it exact."""
    hostile = tmp_path / "motd"  # a file anyone on the host could have written
    hostile.write_bytes(TITLE_AND_CLEAR.encode() + b"\nALERT fake\n")
    playbook = tmp_path / "read.yml"
    playbook.write_text(
        "- hosts: all\n"
        "  tasks:\n"
        "    - name: show what the host has\n"
        f"      command: cat {hostile}\n"
        "      register: motd\n"
        "    - debug: {msg: '{{ motd.stdout }}'}\n"
        f"    - command: 'cat {hostile} >&2; exit 3'\n"
    )
    run = pfdiag(tmp_path, "run", str(playbook), "-v", "-o", "run", "--json", "result.json")
    out = run.stdout.decode() + run.stderr.decode()
    assert run.returncode == 2, out
    assert "\x1b" not in out and "\x07" not in out
    assert not any(line.startswith("ALERT fake") for line in out.splitlines())
    assert "\\x1b]0;PWN\\x07\\x1b[2J" in out  # in the -v line of debug, and in the failure
    report = (tmp_path / "run" / "report.md").read_text()
    assert "\x1b" not in report and not any(line.startswith("ALERT") for line in report.splitlines())
    reason = json.loads((tmp_path / "result.json").read_text())["hosts"]["localhost"]["reason"]
    assert TITLE_AND_CLEAR in reason  # exact in the JSON


@pytest.mark.workload
def test_the_deep_dive_section_shows_a_hostile_name_escaped(tmp_path: Path) -> None:
    with _running("minor_storm.py", "minor-storm", TITLE_AND_CLEAR, "--mb", "64") as storm:
        run = pfdiag(
            tmp_path, "run", "deepdive.yml", "-e", f"pid={storm.pid}", "-e", "interval_s=1", "-o", "run",
            "--json", "dd.json",
        )  # fmt: skip
    out = run.stdout.decode() + run.stderr.decode()
    assert run.returncode == 0, out
    assert "\x1b" not in out and "\x07" not in out
    (profile,) = json.loads((tmp_path / "dd.json").read_text())["hosts"]["localhost"]["profiles"]
    assert profile["comm"] == storm.comm  # exact
    report = (tmp_path / "run" / "report.md").read_text()
    section = report.split("## Where the faults come from", 1)[1]
    assert f"### localhost: `{escape_terminal(storm.comm)}`[{storm.pid}]" in section
    assert "\x1b" not in report and "\x07" not in report
