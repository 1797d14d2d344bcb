"""Split raw probe output into its marked sections; text in, ``Section`` records out.

The probe prints ``@@pfdiag <kind> [args]`` before each block of raw lines. A section ends where
the next marker starts, so a /proc file without a trailing newline cannot run into the next one.

>>> text = "@@pfdiag snap 0 438.55\\n@@pfdiag file /proc/pressure/io\\nsome avg10=0.00 total=1\\n"
>>> [(s.kind, s.args, s.lines) for s in split_sections(text)]
[('snap', '0 438.55', ()), ('file', '/proc/pressure/io', ('some avg10=0.00 total=1',))]
"""

from __future__ import annotations

from dataclasses import dataclass

from diag.shared.errors import ParseError

MARKER = "@@pfdiag "


@dataclass(frozen=True, slots=True)
class Section:
    """One marked block: ``kind`` and ``args`` from the marker line, the raw lines after it."""

    kind: str
    args: str
    lines: tuple[str, ...]
    lineno: int  # 1-based line number of the marker, for error messages


def split_sections(text: str) -> list[Section]:
    """Cut probe output at marker lines; text before the first marker is an error."""
    sections: list[Section] = []
    kind, args, start = "", "", 0
    body: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith(MARKER):
            if kind:
                sections.append(Section(kind, args, tuple(body), start))
            kind, _, args = line[len(MARKER) :].partition(" ")
            start, body = lineno, []
        elif kind:
            body.append(line)
        elif line.strip():
            raise ParseError(
                f"probe output does not start with a {MARKER.strip()} marker: {line[:200]!r}",
                where=f"probe output line {lineno}",
                hint="the login shell may print a banner; make it quiet for non-interactive shells",
            )
    if kind:
        sections.append(Section(kind, args, tuple(body), start))
    return sections
