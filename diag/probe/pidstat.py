"""Per-process sources: ``/proc/PID/stat`` records, the probe's reduced ``proc`` and ``children`` rows,
and the ``/proc/PID/status`` / ``limits`` / ``cgroup`` lines sent for the top processes.

The probe reads stat twice (all processes, reduced on the host to the top N by Δ faults, own +
children) and status/limits/cgroup once for the top N; ``STATUS_KEYS`` are the status lines it keeps.

``comm`` (field 2) may hold spaces, parentheses and even a newline, so the pid is what precedes
the first `` (`` and the other fields are split after the LAST ``)``.

>>> st = parse_stat("68927 (test(cmd).sh) S 68044 68927 68044 34818 68927 4194304 165 0 0 0 "
...                 "0 0 0 0 20 0 1 0 114413973 9961472 868 18446744073709551615")
>>> st.pid, st.comm, st.minflt, st.majflt, st.starttime
(68927, 'test(cmd).sh', 165, 0, 114413973)
"""

from __future__ import annotations

from dataclasses import dataclass

from diag.probe.cost import CpuTicks
from diag.probe.measurements import LockedProcess
from diag.shared.errors import ParseError

RLIM_INFINITY_KIB = (2**64 - 1) // 1024  # "unlimited": larger than any VmLck, so comparisons hold
STATUS_KEYS = ("VmRSS", "VmSwap", "VmLck", "VmPin")  # VmPin (3.x+): pages pinned by RDMA/io_uring/vfio


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` pfdiag uses (minflt/majflt exclude children)."""

    pid: int
    comm: str
    state: str
    ppid: int
    minflt: int
    majflt: int
    starttime: int  # clock ticks after boot; with pid, identifies a process across samples
    cminflt: int = 0  # faults of reaped children (waited-for descendants), added when they are reaped
    cmajflt: int = 0


@dataclass(frozen=True, slots=True)
class ProcDelta:
    """One ``proc`` row of the probe: a top process and its fault deltas over the interval."""

    pid: int
    starttime: int
    state: str
    ppid: int
    minflt_delta: int
    majflt_delta: int
    new: bool  # born during the interval: deltas are its whole counters
    comm: str


def cap_children(delta: int, host_per_s: float | None, dt: float) -> int:
    """Faults of reaped children counted in an interval, at most the host-wide count of the interval:
    more was made before it (a child not seen at the first sample, e.g. hidden or reparented, reaped
    now with its whole life's faults). The probe's samples and the watch's ticks cap alike.

    >>> cap_children(420_000, 1_000.0, 2.0), cap_children(300, 1_000.0, 2.0), cap_children(5, None, 1.0)
    (2000, 300, 5)
    """
    return delta if host_per_s is None else min(delta, int(host_per_s * dt + 0.5))


def parse_stat(text: str, source: str = "/proc/PID/stat") -> ProcStat:
    """One stat record (may span lines when comm holds a newline); ParseError quotes it."""
    head, paren, tail = text.rpartition(")")
    fields = tail.split()
    pid_text, open_paren, comm = head.partition(" (")
    if not paren or not open_paren or len(fields) < 20:
        raise ParseError(f"not a stat record (pid (comm) and >= 20 fields): {text[:200]!r}", where=source)
    try:
        return ProcStat(
            int(pid_text), comm, fields[0], int(fields[1]), int(fields[7]), int(fields[9]), int(fields[19]),
            int(fields[8]), int(fields[10]),
        )  # fmt: skip
    except ValueError:
        raise ParseError(f"non-numeric stat field: {text[:200]!r}", where=source) from None


def unescape_comm(text: str) -> str:
    r"""Undo the probe's escaping of ``\`` and newline in comm.

    >>> unescape_comm(r"a\nb\\c")
    'a\nb\\c'
    """
    if "\\" not in text:
        return text  # nearly every comm
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append("\n" if text[i + 1] == "n" else text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_proc_row(line: str, source: str = "probe procs") -> ProcDelta:
    r"""``proc PID STARTTIME STATE PPID DMIN DMAJ NEW COMM`` (comm last, verbatim, escaped).

    >>> parse_proc_row("proc 1020 10839175 R 28378 12 3 0 (a b ) ( c d) ").comm
    '(a b ) ( c d) '
    >>> print(parse_proc_row(r"proc 7 1 S 1 5 0 0 b\\n\\\\q\nALERT").comm)  # backslashes doubled
    b\n\\q
    ALERT
    """
    parts = line.split(" ", 8)
    try:
        if len(parts) != 9 or parts[0] != "proc":
            raise ValueError
        return ProcDelta(
            int(parts[1]), int(parts[2]), parts[3], int(parts[4]), int(parts[5]), int(parts[6]),
            parts[7] == "1", unescape_comm(parts[8]),
        )  # fmt: skip
    except ValueError:
        raise ParseError(
            f"expected 'proc PID START STATE PPID DMIN DMAJ NEW COMM': {line!r}", where=source
        ) from None


def parse_children_row(line: str, source: str = "probe procs") -> tuple[int, int, int]:
    """``children PID DCMINFLT DCMAJFLT``: the faults of the children a top process reaped in the interval.

    >>> parse_children_row("children 812 420000 3")
    (812, 420000, 3)
    """
    parts = line.split()
    try:
        if len(parts) != 4 or parts[0] != "children":
            raise ValueError
        pid, dmin, dmaj = int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        raise ParseError(f"expected 'children PID DMIN DMAJ': {line!r}", where=source) from None
    return pid, max(dmin, 0), max(dmaj, 0)


def parse_cpu_row(line: str, source: str = "probe procs") -> tuple[int, CpuTicks]:
    """``cpu PID DUTIME DSTIME DCUTIME DCSTIME``: a top process's CPU time over the interval, in clock
    ticks (stat fields 14-17), its reaped children's counted like their faults.

    >>> parse_cpu_row("cpu 812 6 93 0 2")
    (812, CpuTicks(user=6, system=93, children_user=0, children_system=2))
    """
    parts = line.split()
    try:
        if len(parts) != 6 or parts[0] != "cpu":
            raise ValueError
        pid, *ticks = (int(x) for x in parts[1:])
    except ValueError:
        raise ParseError(
            f"expected 'cpu PID DUTIME DSTIME DCUTIME DCSTIME': {line!r}", where=source
        ) from None
    return pid, CpuTicks(*(max(t, 0) for t in ticks))


def parse_status_kib(lines: tuple[str, ...] | list[str]) -> dict[str, int]:
    """``VmRSS:\\t 14984 kB`` style lines of /proc/PID/status -> {"VmRSS": 14984}.

    >>> parse_status_kib(["VmLck:\\t       0 kB", "VmSwap:      1024 kB", "Name:\\tbash"])
    {'VmLck': 0, 'VmSwap': 1024}
    """
    values: dict[str, int] = {}
    for line in lines:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isascii() and parts[0].isdigit():
            values[name.strip()] = int(parts[0])
    return values


def parse_memlock_limit_kib(line: str) -> int | None:
    """Soft limit of the ``Max locked memory`` line of /proc/PID/limits, in KiB.

    >>> parse_memlock_limit_kib("Max locked memory         8388608              8388608              bytes")
    8192
    >>> parse_memlock_limit_kib("Max locked memory         unlimited            unlimited            bytes")
    18014398509481983
    """
    parts = line[len("Max locked memory") :].split()
    if not parts:
        return None
    if parts[0] == "unlimited":
        return RLIM_INFINITY_KIB
    return int(parts[0]) // 1024 if parts[0].isascii() and parts[0].isdigit() else None


def parse_cgroup_path(line: str) -> str:
    """The path of a /proc/PID/cgroup line (``0::/x`` for v2, ``N:controllers:/x`` for v1).

    >>> parse_cgroup_path("0::/system.slice/sshd.service"), parse_cgroup_path("12:memory:/docker/ab")
    ('/system.slice/sshd.service', '/docker/ab')
    """
    return line.split(":", 2)[2] if line.count(":") >= 2 else line


def _kib_or_none(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def parse_locked_row(line: str, source: str = "probe locked") -> LockedProcess:
    """``locked PID LCK_KIB PIN_KIB MEMLOCK_SOFT COMM``: a process holding locked or pinned memory.

    ``-`` is a value the probe could not read; MEMLOCK_SOFT is the ``Max locked memory`` soft limit
    as /proc/PID/limits prints it (bytes or ``unlimited``).

    >>> parse_locked_row("locked 900 65536 0 unlimited pf lock")
    LockedProcess(pid=900, comm='pf lock', lck_kib=65536, pin_kib=0, memlock_limit_kib=18014398509481983)
    """
    parts = line.split(" ", 5)
    try:
        if len(parts) != 6 or parts[0] != "locked":
            raise ValueError
        pid = int(parts[1])
    except ValueError:
        raise ParseError(f"expected 'locked PID LCK PIN LIMIT COMM': {line!r}", where=source) from None
    limit = parse_memlock_limit_kib("Max locked memory " + parts[4]) if parts[4] != "-" else None
    return LockedProcess(pid, unescape_comm(parts[5]), _kib_or_none(parts[2]), _kib_or_none(parts[3]), limit)
