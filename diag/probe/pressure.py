"""Parse a PSI file (``/proc/pressure/memory`` or ``io``) into ``Pressure`` records.

``avg*`` are percent of wall time; ``total`` is cumulative stall time in microseconds, so the
stall percentage over any interval is Δtotal / Δt. Some files have only a ``full`` line
(``/proc/pressure/irq``) and some end without a newline.

>>> p = parse_pressure(["some avg10=70.24 avg60=62.50 avg300=40.63 total=3461209614",
...                     "full avg10=57.59 avg60=51.44 avg300=33.70 total=2843815604"])
>>> p["some"].avg10, p["full"].total_us
(70.24, 2843815604)
"""

from __future__ import annotations

from dataclasses import dataclass

from diag.errors import ParseError


@dataclass(frozen=True, slots=True)
class Pressure:
    """One PSI line: averages in percent, total stall time in microseconds."""

    avg10: float
    avg60: float
    avg300: float
    total_us: int


def parse_pressure(lines: tuple[str, ...] | list[str], source: str = "/proc/pressure") -> dict[str, Pressure]:
    """``some``/``full`` -> Pressure; a malformed line is a ParseError quoting it."""
    result: dict[str, Pressure] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        kind, _, rest = line.partition(" ")
        try:
            fields = dict(item.split("=", 1) for item in rest.split())
            result[kind] = Pressure(
                avg10=float(fields["avg10"]),
                avg60=float(fields["avg60"]),
                avg300=float(fields["avg300"]),
                total_us=int(fields["total"]),
            )
        except (KeyError, ValueError):
            raise ParseError(
                f"expected 'some|full avg10=.. total=..': {line!r}", where=f"{source} line {n}"
            ) from None
        if kind not in ("some", "full"):
            raise ParseError(f"unknown PSI line kind {kind!r}: {line!r}", where=f"{source} line {n}")
    return result
