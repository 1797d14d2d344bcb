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
    lines = text.splitlines()
    marks = _marker_lines(lines)
    sections: list[Section] = []
    _no_marker(lines, 0, marks[0] if marks else len(lines))
    for at, end in zip(marks, [*marks[1:], len(lines)][: len(marks)], strict=True):
        kind, _, args = lines[at][len(MARKER) :].partition(" ")
        if kind:
            sections.append(Section(kind, args, tuple(lines[at + 1 : end]), at + 1))
        else:  # "@@pfdiag " alone is no marker: what follows it has none either
            _no_marker(lines, at + 1, end)
    return sections


def _marker_lines(lines: list[str]) -> list[int]:
    """The indexes of the marker lines, found by ``str.find`` in the lines joined by ``\\n`` (which no
    line holds), not by a Python loop over every line: a probe answer is ~700 lines and ~60 markers."""
    joined = "\n".join(lines)
    marks = [0] if joined.startswith(MARKER) else []
    needle, index, pos = "\n" + MARKER, 0, 0
    at = joined.find(needle)
    while at >= 0:
        index += joined.count("\n", pos, at + 1)
        marks.append(index)
        pos = at + 1
        at = joined.find(needle, pos)
    return marks


def _no_marker(lines: list[str], start: int, end: int) -> None:
    """Lines outside any section must be blank."""
    for index in range(start, end):
        if lines[index].strip():
            raise ParseError(
                f"probe output does not start with a {MARKER.strip()} marker: {lines[index][:200]!r}",
                where=f"probe output line {index + 1}",
                hint="the login shell may print a banner; make it quiet for non-interactive shells",
            )
