"""PSI (``/proc/pressure/memory`` and ``io``), read by ``cat`` at both snapshots: parse a file into
``Pressure`` records, and turn two readings into the ``Psi`` record (``psi_values``).

``avg*`` are percent of wall time; ``total`` is cumulative stall time in microseconds, so the
stall percentage over any interval is Δtotal / Δt. Some files have only a ``full`` line
(``/proc/pressure/irq``) and some end without a newline. A line type other than ``some``/``full`` is
skipped, as prometheus/procfs does: the kernel may add one, and it must not fail the whole sample.

>>> p = parse_pressure(["some avg10=70.24 avg60=62.50 avg300=40.63 total=3461209614",
...                     "full avg10=57.59 avg60=51.44 avg300=33.70 total=2843815604"])
>>> p["some"].avg10, p["full"].total_us
(70.24, 2843815604)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diag.probe.source import TWICE, Source
from diag.shared.errors import ParseError


@dataclass(frozen=True, slots=True)
class Pressure:
    """One PSI line: averages in percent, total stall time in microseconds."""

    avg10: float
    avg60: float
    avg300: float
    total_us: int


def parse_pressure(lines: Sequence[str], source: str = "/proc/pressure") -> dict[str, Pressure]:
    """``some``/``full`` -> Pressure; a malformed ``some``/``full`` line is a ParseError quoting it.

    >>> sorted(parse_pressure(["some avg10=0.00 avg60=0.00 avg300=0.00 total=5", "stall max_us=12"]))
    ['some']
    """
    result: dict[str, Pressure] = {}
    for n, line in enumerate(lines, start=1):
        kind, _, rest = line.strip().partition(" ")
        if kind not in ("some", "full"):
            continue  # blank, or a line type of a newer kernel
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
    return result


RESOURCES = ("memory", "io")
SOURCES = tuple(
    Source(f"pressure/{res}", f"/proc/pressure/{res}", TWICE, parse_pressure, via_cat=True)
    for res in RESOURCES
)


@dataclass(frozen=True, slots=True)
class Psi:
    """PSI averages (avg10, percent) at the second reading and the stall percent over the interval."""

    memory_some_avg10: float | None = None
    memory_some_pct: float | None = None
    memory_full_avg10: float | None = None
    memory_full_pct: float | None = None
    io_some_avg10: float | None = None
    io_some_pct: float | None = None
    io_full_avg10: float | None = None
    io_full_pct: float | None = None


def psi_values(
    a: Mapping[str, dict[str, Pressure] | None],
    b: Mapping[str, dict[str, Pressure] | None],
    missing: Mapping[str, str],
    interval_s: float,
    ne: dict[str, str],
) -> Psi:
    """``a``/``b``: resource -> parsed file per snapshot; ``missing``: resource -> why it was unreadable.

    ``total`` is µs of stall: % of the interval = Δµs / (Δs * 1e6) * 100.

    >>> p0 = parse_pressure(["some avg10=1.00 avg60=0.50 avg300=0.10 total=1000"])
    >>> p1 = parse_pressure(["some avg10=1.20 avg60=0.50 avg300=0.10 total=31000"])
    >>> ne = {}
    >>> psi = psi_values({"memory": p0}, {"memory": p1}, {"io": "/proc/pressure/io: No such file"}, 2.0, ne)
    >>> psi.memory_some_pct, psi.memory_full_pct, ne["psi_io"]
    (1.5, None, '/proc/pressure/io: No such file')
    """
    values: dict[str, float | None] = {}
    for res in RESOURCES:
        p0, p1 = a.get(res), b.get(res)
        if res in missing or p0 is None or p1 is None:
            ne[f"psi_{res}"] = missing.get(res, f"/proc/pressure/{res} not read")
        for kind in ("some", "full"):
            x, y = (p0 or {}).get(kind), (p1 or {}).get(kind)
            values[f"{res}_{kind}_avg10"] = y.avg10 if y else None
            pct = (y.total_us - x.total_us) / (interval_s * 1e4) if x and y and interval_s > 0 else None
            values[f"{res}_{kind}_pct"] = round(max(pct, 0.0), 2) if pct is not None else None
    return Psi(**values)
