"""The watch's per-tick snapshot: the host-side awk command, its parser, and rates between ticks.

In: the text one tick returns (``ticker.awk``: a ``T`` header, ``P`` lines for new or changed
processes, ``X`` lines for the ones gone, ``E`` at the end). Out: a ``Tick``, and from two
consecutive ticks a ``TickRates`` (host minor/major/swap-in per second, per-process rates keyed by
pid + starttime: own, children and total faults, named and capped as the probe's ``Process``).
Processes that did not change since the last tick do not travel; the ``ProcessTable`` keeps what the
host sent before.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from diag.probe.pidstat import cap_children, unescape_comm
from diag.shared.errors import ParseError

SCRIPT_PATH = Path(__file__).with_name("ticker.awk")


@cache
def ticker_script() -> str:
    """The awk program without its comment lines (sent once per login)."""
    lines = SCRIPT_PATH.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#")) + "\n"


def ticker_command(exclude_pid: int | None = None) -> str:
    """The command a host runs for the whole watch: ``exec awk`` reading one tick per stdin line.

    ``$$`` is the awk itself after ``exec``: it leaves out itself and its ``cat`` child; a local
    watch also leaves out the controller (``exclude_pid``).

    >>> ticker_command(42).startswith("exec awk -v self=\\"$$\\" -v skip=42 ")
    True
    """
    skip = int(exclude_pid) if exclude_pid is not None else -1
    return f'exec awk -v self="$$" -v skip={skip} {shlex.quote(ticker_script())}'


@dataclass(frozen=True, slots=True)
class ProcCounters:
    """One process's cumulative fault counters (/proc/PID/stat fields 10-13) at one tick."""

    pid: int
    starttime: int
    comm: str
    minflt: int
    cminflt: int
    majflt: int
    cmajflt: int


@dataclass(frozen=True, slots=True)
class Tick:
    """One snapshot: host counters (None when the kernel lacks them) and the process changes."""

    seq: int
    uptime_s: float
    pgfault: int | None
    pgmajfault: int | None
    pswpin: int | None
    zswpin: int | None
    seen: int
    changed: tuple[ProcCounters, ...] = ()
    gone: tuple[tuple[int, int, int], ...] = ()  # pid, starttime, parent pid (0: not sent)


def _count(value: str) -> int | None:
    return None if value == "-" else int(value)


def parse_tick(text: str) -> Tick:
    """Parse one tick of ``ticker.awk`` output.

    >>> t = parse_tick('''P 1234 5567 100 7 2 0 pf (storm) x
    ... X 99 4400 1
    ... T 3 812.55 8260269 94233 162589 - 83
    ... E 3
    ... ''')
    >>> t.seq, t.uptime_s, t.pgfault, t.zswpin, t.seen, t.gone
    (3, 812.55, 8260269, None, 83, ((99, 4400, 1),))
    >>> t.changed[0].comm, t.changed[0].minflt, t.changed[0].cminflt
    ('pf (storm) x', 100, 7)
    >>> parse_tick("P 1 2 x\\nE 1\\n")
    Traceback (most recent call last):
    diag.shared.errors.ParseError: watch tick: bad line 'P 1 2 x' (line 1)
    """
    changed: list[ProcCounters] = []
    gone: list[tuple[int, int, int]] = []
    header: list[str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            kind = line[:1]
            if kind == "P":
                parts = line.split(" ", 7)
                pid, start, minflt, cminflt, majflt, cmajflt = (int(v) for v in parts[1:7])
                comm = unescape_comm(parts[7]) if len(parts) > 7 else ""
                changed.append(ProcCounters(pid, start, comm, minflt, cminflt, majflt, cmajflt))
            elif kind == "X":
                parts = line.split()
                start, ppid = (int(parts[i]) if len(parts) > i else 0 for i in (2, 3))
                gone.append((int(parts[1]), start, ppid))
            elif kind == "T":
                header = line.split()
                if len(header) != 8:
                    raise ValueError(line)
            elif kind == "E" or not line.strip():
                continue
            else:
                raise ValueError(line)
        except (ValueError, IndexError):
            raise ParseError(f"watch tick: bad line {line[:120]!r} (line {number})") from None
    if header is None:
        raise ParseError("watch tick: no T header line", where=text[-120:])
    return Tick(
        seq=int(header[1]),
        uptime_s=float(header[2]),
        pgfault=_count(header[3]),
        pgmajfault=_count(header[4]),
        pswpin=_count(header[5]),
        zswpin=_count(header[6]),
        seen=int(header[7]),
        changed=tuple(changed),
        gone=tuple(gone),
    )


@dataclass(frozen=True, slots=True)
class ProcRate:
    """A process's fault rates over one tick, named as on the probe's ``Process`` (a name means the same
    thing in a run and in a watch): ``minflt_per_s``/``majflt_per_s`` its own faults (stat fields 10
    and 12), ``children_*`` those of the children it reaped (11 and 13, capped as the probe caps them),
    ``total_*`` own + children: what the rules, the ranking and the live table use, as the triage's
    per-process thresholds do."""

    pid: int
    starttime: int
    comm: str
    minflt_per_s: float
    majflt_per_s: float
    children_minflt_per_s: float
    children_majflt_per_s: float
    new: bool

    @property
    def total_minflt_per_s(self) -> float:
        return self.minflt_per_s + self.children_minflt_per_s

    @property
    def total_majflt_per_s(self) -> float:
        return self.majflt_per_s + self.children_majflt_per_s

    def to_dict(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "starttime": self.starttime,
            "comm": self.comm,
            "minflt_per_s": round(self.minflt_per_s, 1),
            "majflt_per_s": round(self.majflt_per_s, 1),
            "children_minflt_per_s": round(self.children_minflt_per_s, 1),
            "children_majflt_per_s": round(self.children_majflt_per_s, 1),
            "total_minflt_per_s": round(self.total_minflt_per_s, 1),
            "total_majflt_per_s": round(self.total_majflt_per_s, 1),
            "new": self.new,
        }


@dataclass(frozen=True, slots=True)
class TickRates:
    """What one tick measured: host rates (None when not evaluable) and every process that faulted."""

    interval_s: float
    rates: dict[str, float | None]
    processes: tuple[ProcRate, ...]  # only processes with faults during the tick, busiest first
    alive: frozenset[int]  # every pid present at this tick
    exited: tuple[ProcCounters, ...]  # processes gone since the previous tick


def _per_s(now: int | None, then: int | None, dt: float) -> float | None:
    if now is None or then is None:
        return None
    return max(0, now - then) / dt


@dataclass(slots=True)
class ProcessTable:
    """The host's process counters as of the last tick; ``apply`` turns the next tick into rates."""

    procs: dict[int, ProcCounters] = field(default_factory=dict)
    last: Tick | None = None

    def apply(self, tick: Tick) -> TickRates | None:
        """Fold ``tick`` in; None for the first tick (a baseline has no rates).

        A reaped child adds all the faults of its life to its parent's children counters: what it had
        made by the last tick is taken off the nearest ancestor still alive (through parents that
        exited too), and the rest is capped at the host-wide count of the tick, as in the triage.
        """
        previous, before = self.last, dict(self.procs)
        exited: list[ProcCounters] = []
        parent = {pid: ppid for pid, _start, ppid in tick.gone}
        earlier_min: dict[int, int] = {}
        earlier_maj: dict[int, int] = {}
        for pid, _start, ppid in tick.gone:
            gone = self.procs.pop(pid, None)
            if gone is None:
                continue
            exited.append(gone)
            reaper = ppid
            for _ in range(16):
                if reaper not in parent or reaper == pid:
                    break
                reaper = parent[reaper]
            earlier_min[reaper] = earlier_min.get(reaper, 0) + gone.minflt + gone.cminflt
            earlier_maj[reaper] = earlier_maj.get(reaper, 0) + gone.majflt + gone.cmajflt
        for proc in tick.changed:
            self.procs[proc.pid] = proc
        self.last = tick
        if previous is None:
            return None
        dt = tick.uptime_s - previous.uptime_s
        if dt <= 0:
            dt = 1e-3  # /proc/uptime has 10 ms resolution; two ticks inside one step still make a rate
        pgfault = _per_s(tick.pgfault, previous.pgfault, dt)
        majflt = _per_s(tick.pgmajfault, previous.pgmajfault, dt)
        pswpin = _per_s(tick.pswpin, previous.pswpin, dt)
        zswpin = _per_s(tick.zswpin, previous.zswpin, dt)
        host = {
            "pgfault_per_s": pgfault,
            "minflt_per_s": None if pgfault is None or majflt is None else max(0.0, pgfault - majflt),
            "majflt_per_s": majflt,
            "swapin_per_s": None if pswpin is None else pswpin + (zswpin or 0.0),
        }
        rates: list[ProcRate] = []
        for proc in tick.changed:
            old = before.get(proc.pid)
            new = old is None or old.starttime != proc.starttime
            base = (
                ProcCounters(proc.pid, proc.starttime, proc.comm, 0, 0, 0, 0) if new or old is None else old
            )
            own_min, own_maj = proc.minflt - base.minflt, proc.majflt - base.majflt
            kid_min, kid_maj = proc.cminflt - base.cminflt, proc.cmajflt - base.cmajflt
            if not new:
                kid_min = max(0, kid_min - earlier_min.get(proc.pid, 0))
                kid_maj = max(0, kid_maj - earlier_maj.get(proc.pid, 0))
            kid_min = cap_children(kid_min, host["minflt_per_s"], dt)
            kid_maj = cap_children(kid_maj, majflt, dt)
            if own_min + own_maj + kid_min + kid_maj <= 0:
                continue
            rates.append(
                ProcRate(
                    pid=proc.pid,
                    starttime=proc.starttime,
                    comm=proc.comm,
                    minflt_per_s=own_min / dt,
                    majflt_per_s=own_maj / dt,
                    children_minflt_per_s=kid_min / dt,
                    children_majflt_per_s=kid_maj / dt,
                    new=new,
                )
            )
        rates.sort(key=lambda r: (r.total_majflt_per_s, r.total_minflt_per_s), reverse=True)
        return TickRates(dt, host, tuple(rates), frozenset(self.procs), tuple(exited))
