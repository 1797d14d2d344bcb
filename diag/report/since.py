""" "Since the last audit": an audit's diff as the opening section of ``report.md`` and terminal lines.

In: a ``Diff``, the baseline audit's id and time (None for a first audit), and the notifier outcome.
Out: markdown (prepended to the run folder's ``report.md``) and a one-line count for the terminal.

>>> from diag.history.diff import Diff, Problem
>>> p = Problem("web1", "minor-storm", "java", "verdict", "warning", "storm", first_seen="t0")
>>> terminal_counts(Diff(new=(p,)), baseline=(3, "t0"))
'since the last audit (#3, t0): 1 new, 0 persisting, 0 resolved, 0 unknown'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from diag.history.diff import Diff, Problem
from diag.shared.errors import ReportError
from diag.shared.escape import escape_markdown, md_cell, md_code, md_with_code
from diag.shared.files import read_text, write_text

SECTION_TITLE = "## Since the last audit"
MAX_ROWS = 50  # per status; the rest is in diff.json


def terminal_counts(diff: Diff, baseline: tuple[int, str] | None) -> str:
    counts = diff.counts()
    numbers = ", ".join(f"{n} {key}" for key, n in counts.items())
    if baseline is None:
        return f"first audit of this scope: {numbers}"
    return f"since the last audit (#{baseline[0]}, {baseline[1]}): {numbers}"


def _table(problems: Sequence[Problem], with_age: bool) -> list[str]:
    head = "| host | problem | process | severity | summary |" + (
        " since | audits in a row |" if with_age else ""
    )
    rule = "|---|---|---|---|---|" + ("---|---:|" if with_age else "")
    rows = [head, rule]
    for p in list(problems)[:MAX_ROWS]:
        summary = " ".join(p.summary.split())[:160]
        cells = [p.host, md_code(p.code), p.comm or "", p.severity, md_with_code(summary)]
        row = "| " + " | ".join(md_cell(c) for c in cells) + " |"
        if with_age:
            row += f" {p.first_seen} | {p.streak} |"
        rows.append(row)
    if len(problems) > MAX_ROWS:
        rows.append(f"\n... and {len(problems) - MAX_ROWS} more in `diff.json`.")
    return rows


def render_since(diff: Diff, baseline: tuple[int, str] | None, audit_id: int, notified: str | None) -> str:
    """The markdown section (ends with a blank line)."""
    lines = [SECTION_TITLE, ""]
    counts = diff.counts()
    if baseline is None:
        lines.append(
            f"Audit #{audit_id} is the first complete audit of this scope (playbook + inventory + limit): "
            f"every problem is new ({counts['new']})."
        )
    else:
        lines.append(
            f"Audit #{audit_id} against audit #{baseline[0]} ({baseline[1]}): **{counts['new']} new**, "
            f"{counts['persisting']} persisting, **{counts['resolved']} resolved**, "
            f"{counts['unknown']} unknown (host unreachable or not evaluable this time: "
            "not counted as resolved)."
        )
    if notified:
        lines.append(f"Notification: {escape_markdown(notified)}.")
    lines.append("")
    for key, title, with_age in (
        ("new", "New", False),
        ("resolved", "Resolved", True),
        ("persisting", "Persisting", True),
        ("unknown", "Unknown now", True),
    ):
        problems = getattr(diff, key)
        if problems:
            lines += [f"### {title} ({len(problems)})", "", *_table(problems, with_age), ""]
    if not any(counts.values()):
        lines += ["No problem then, none now.", ""]
    return "\n".join(lines) + "\n"


def prepend_since(report_path: Path, section: str) -> None:
    """Put the section at the top of ``report.md`` (written by the run before the diff existed).

    Read and written like every report (``diag.shared.files``): 0600, bounded, never a device replaced.
    """
    try:
        body = read_text(report_path, what="report", error=ReportError)
    except FileNotFoundError:
        body = ""
    write_text(report_path, section + "\n" + body, what="report")
