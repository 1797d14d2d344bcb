"""Is this normal for this host? Each host's fault rates against its own recent audits.

In: the audit history file (``--history``, ``PFDIAG_HISTORY``, else ``reports/history.sqlite``) and a
run's or a watch's host rates. Out: ``Baselines`` (read once, at the start), whose ``compare`` gives a
``Baseline`` record (``diag.findings``) per host: the median and p95 of the host's minor and major
faults/s over its complete audits of the last ``days``, this run's rates against them, and a sentence.

The history is only read: opened with SQLite's ``mode=ro`` (no schema created, no journal switched, a
WAL file stays WAL), with a short busy timeout, so a run never waits long behind an audit's write lock
and never changes the file. A missing file is "no history"; a file that is not a pfdiag history, or
that cannot be read, is a warning and the run goes on without baselines.

"Usual" is a ceiling, not a band: a rate is usual at or under the largest of its p95, twice its median
and a floor that costs nothing worth saying (``FLOORS``). The p95 lets a host that is busy now and then
stay usual when it is; twice the median keeps a host whose audits were all alike (p95 close to the
median) from being "above" at 1.3x; the floors (the guide's per-process alert lines) keep 3 major/s on
a host whose median is 0 from reading as infinitely above: under them a rate is not news. Below
``MIN_AUDITS`` audits no baseline is stated: the p95 of four numbers is their largest, and one odd
audit would be the host's "usual".

>>> usual = Usual(96, {"minflt_per_s": (3100.0, 5200.0), "majflt_per_s": (0.2, 1.5)})
>>> seen = Baselines(14.0, {"web01": usual}, "")
>>> seen.compare("web01", {"minflt_per_s": 37200.0, "majflt_per_s": 0.4}).summary
'12x its usual minor/s (median 3,100 over 96 audits)'
>>> seen.compare("web01", {"minflt_per_s": 4000.0, "majflt_per_s": 0.0}).label
'usual for this host'
>>> seen.describe("web01")
'usual minor/s median 3,100, p95 5,200; major/s median 0.2, p95 1.5 over 96 audits in 14 days'
>>> seen.compare("db01", {"minflt_per_s": 10.0, "majflt_per_s": 0.0}).summary
'no history for this host (no audit of it in the last 14 days)'
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from diag.findings import Baseline, HostResult, RateBaseline
from diag.history.queries import HistoryError
from diag.shared.limits import finite_positive
from diag.shared.units import fmt_rate, plural

DEFAULT_DAYS = 14.0
# Fewer audits than this state no baseline: with 4 the p95 is their maximum. At the audit's default
# period (15 min) five audits are an hour and a quarter of history.
MIN_AUDITS = 5
USUAL_MEDIAN_FACTOR = 2.0
# Rates at or under these are usual whatever the host's past: the guide's per-process lines. 1,000 minor
# faults/s cost 1-10 ms of CPU per second (0.1-1 % of one CPU); 10 major faults/s 10-100 ms/s of stall,
# where a stall starts to be felt. A shared test machine showed 3-5 major/s host-wide from its neighbours
# on hosts whose audits all had 0: with a floor of 1/s that read "above usual" for nothing.
FLOORS = {"minflt_per_s": 1000.0, "majflt_per_s": 10.0}
RATES = ("minflt_per_s", "majflt_per_s")
UNITS = {"minflt_per_s": "minor/s", "majflt_per_s": "major/s"}
# A run waits at most this long for a history another process holds locked (a rollback-journal file
# in the middle of a write; a WAL history never blocks a reader), then goes on without baselines.
READ_TIMEOUT_S = 2.0
HOSTS_PER_QUERY = 500  # SQLite allows 999 bound parameters in older builds


@dataclass(frozen=True, slots=True)
class Usual:
    """One host's audits in the window: how many, and per rate its (median, p95)."""

    audits: int
    rates: Mapping[str, tuple[float, float]]


def check_days(value: float, flag: str = "--baseline-days") -> float:
    """The window, in days: a finite number > 0 (fractions allowed: 0.5 is the last 12 hours)."""
    return finite_positive(value, flag)


def _times(ratio: float) -> str:
    """A ratio as people say it.

    >>> _times(12.4), _times(3.25), _times(1234.0)
    ('12x', '3.2x', '1,234x')
    """
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def usual_ceiling(rate: str, median: float, p95: float) -> float:
    """The highest value still usual for a host: its p95, twice its median, or the rate's floor.

    >>> usual_ceiling("minflt_per_s", 3100.0, 5200.0), usual_ceiling("majflt_per_s", 0.0, 0.0)
    (6200.0, 10.0)
    """
    return max(p95, USUAL_MEDIAN_FACTOR * median, FLOORS[rate])


@dataclass(frozen=True, slots=True)
class Baselines:
    """What a run or a watch compares with, read once: each host's ``Usual`` over the last ``days``.

    ``note`` says once what was read (or why nothing: "no history: nothing at ..."); ``warning`` is set
    when the history exists but could not be read.
    """

    days: float
    hosts: Mapping[str, Usual]
    note: str
    warning: str | None = None
    found: bool = True  # False: no history file at all

    def compare(self, host: str, now: Mapping[str, float | None]) -> Baseline:
        """``host``'s rates ``now`` (``minflt_per_s``, ``majflt_per_s``) against its usual ones."""
        usual = self.hosts.get(host)
        if usual is None or usual.audits == 0:
            where = "" if not self.found else f" (no audit of it in the last {self.days:g} days)"
            return Baseline(
                "no-history", 0, self.days, summary=f"no history for this host{where}", label="no history"
            )
        rates = {
            name: _rate(name, *usual.rates[name], now.get(name), judged=usual.audits >= MIN_AUDITS)
            for name in RATES
            if name in usual.rates
        }
        minor, major = rates.get("minflt_per_s"), rates.get("majflt_per_s")
        if usual.audits < MIN_AUDITS:
            return Baseline(
                "few-audits",
                usual.audits,
                self.days,
                minor,
                major,
                summary=f"only {plural(usual.audits, 'audit')} of this host in the last {self.days:g} days: "
                f"a baseline needs {MIN_AUDITS}",
                label=f"{usual.audits}/{MIN_AUDITS} audits",
            )
        above = sorted(
            (name for name, r in rates.items() if r.usual is False),
            key=lambda name: -(rates[name].ratio or float("inf")),
        )
        if above:
            first = rates[above[0]]
            ratio = first.ratio
            summary = "; ".join(_above(name, rates[name], usual.audits) for name in above)
            label = (
                f"{_times(ratio)} usual {UNITS[above[0]]}"
                if ratio is not None
                else f"above usual {UNITS[above[0]]}"
            )
            return Baseline("above", usual.audits, self.days, minor, major, ratio, summary, label)
        summary = f"usual for this host ({_usual_text(usual, self.days)})"
        ratio = minor.ratio if minor is not None else None
        return Baseline("usual", usual.audits, self.days, minor, major, ratio, summary, "usual for this host")

    def describe(self, host: str) -> str:
        """What is usual for ``host``, with no rates to compare yet (the start of a watch)."""
        usual = self.hosts.get(host)
        if usual is None or usual.audits < MIN_AUDITS:
            return self.compare(host, {}).summary
        return f"usual {_usual_text(usual, self.days)}"

    def for_result(self, result: HostResult) -> Baseline | None:
        """A finished host's baseline; None when it was not evaluated (nothing to compare) or when there
        is no readable history at all (the ``note`` says that once, not once per host)."""
        if result.status != "ok" or result.sample is None or not self.found or self.warning:
            return None
        rates = result.sample.rates
        return self.compare(result.host, {name: getattr(rates, name, None) for name in RATES})


def _usual_text(usual: Usual, days: float) -> str:
    """``minor/s median 3,100, p95 5,200; major/s median 0.2, p95 1.5 over 96 audits in 14 days``."""
    parts = [f"{UNITS[n]} median {fmt_rate(m)}, p95 {fmt_rate(p)}" for n, (m, p) in usual.rates.items()]
    return f"{'; '.join(parts)} over {plural(usual.audits, 'audit')} in {days:g} days"


def _rate(name: str, median: float, p95: float, now: float | None, *, judged: bool) -> RateBaseline:
    if now is None or not judged:
        return RateBaseline(median, p95, now)
    ratio = now / median if median > 0 else None
    return RateBaseline(median, p95, now, ratio, now <= usual_ceiling(name, median, p95))


def _above(name: str, rate: RateBaseline, audits: int) -> str:
    """One rate over its usual ceiling, in words.

    >>> _above("majflt_per_s", RateBaseline(0.0, 0.4, 35.0, None, False), 20)
    '35.0 major/s where its usual is 0 (p95 0.4 over 20 audits)'
    """
    if rate.ratio is None:
        return (
            f"{fmt_rate(rate.now)} {UNITS[name]} where its usual is 0 "
            f"(p95 {fmt_rate(rate.p95)} over {plural(audits, 'audit')})"
        )
    median = fmt_rate(rate.median)
    return f"{_times(rate.ratio)} its usual {UNITS[name]} (median {median} over {plural(audits, 'audit')})"


def _median_p95(values: list[float]) -> tuple[float, float]:
    """Median and 95th percentile (linear between the closest ranks, as numpy's default).

    >>> _median_p95([1.0, 2.0, 3.0, 4.0, 100.0])
    (3.0, 80.8)
    """
    if len(values) == 1:
        return values[0], values[0]
    p95 = statistics.quantiles(values, n=20, method="inclusive")[-1]
    return statistics.median(values), round(p95, 6)


def read_baselines(path: Path, hosts: Iterable[str], days: float, now_s: float) -> Baselines:
    """Each host's usual rates over its complete audits of the last ``days`` before ``now_s``.

    Never raises for the file's sake: a missing history is ``found=False``, one that cannot be read
    (not SQLite, not a pfdiag history, locked past ``READ_TIMEOUT_S``) a ``warning``.
    """
    names = sorted(set(hosts))
    if not path.exists():
        note = f"no history: nothing at {path} to compare the hosts with (`pfdiag audit` records one)"
        return Baselines(days, {}, note, found=False)
    try:
        values = _read(path, names, now_s - days * 86400.0)
    except HistoryError as exc:
        warning = exc.render()
        return Baselines(days, {}, warning, warning=warning)
    usual = {host: _usual(rows) for host, rows in values.items()}
    stated = sum(1 for u in usual.values() if u.audits >= MIN_AUDITS)
    note = (
        f"compared with {path}: {stated} of {plural(len(names), 'host')} with {MIN_AUDITS} or more "
        f"audits in the last {days:g} days"
    )
    return Baselines(days, usual, note)


def _usual(rows: list[tuple[float | None, float | None]]) -> Usual:
    rates: dict[str, tuple[float, float]] = {}
    for index, name in enumerate(RATES):
        series = [float(value) for row in rows if (value := row[index]) is not None]
        if series:
            rates[name] = _median_p95(series)
    return Usual(sum(1 for row in rows if any(v is not None for v in row)), rates)


def _read(path: Path, names: list[str], since_s: float) -> dict[str, list[tuple[float | None, float | None]]]:
    """The rates of ``names`` in complete audits since ``since_s``, read-only."""
    if not path.is_file():
        raise HistoryError(f"the audit history {str(path)!r} is not a regular file", hint=_HINT)
    try:
        db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=READ_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open the audit history {str(path)!r}: {exc}", hint=_HINT) from None
    try:
        try:
            db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise
            raise HistoryError(f"{str(path)!r} is not a pfdiag audit history ({exc})", hint=_HINT) from None
        found: dict[str, list[tuple[float | None, float | None]]] = {}
        for start in range(0, len(names), HOSTS_PER_QUERY):
            chunk = names[start : start + HOSTS_PER_QUERY]
            rows = db.execute(
                "SELECT h.host, h.minflt_per_s, h.majflt_per_s FROM host_results h JOIN runs r"
                " ON r.id = h.run_id WHERE r.complete = 1 AND h.state = 'ok' AND r.started_ts >= ?"
                f" AND h.host IN ({','.join('?' * len(chunk))})",
                (since_s, *chunk),
            )
            for host, minor, major in rows:
                found.setdefault(str(host), []).append((minor, major))
        return found
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot read the audit history {str(path)!r}: {exc}", hint=_HINT) from None
    finally:
        db.close()


_HINT = "the run goes on without baselines; give another file with --history PATH (or PFDIAG_HISTORY)"
