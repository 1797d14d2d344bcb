"""Parsers of the deep dive's output (``deepdive.sh``): perf stat, perf report, smaps, bpftrace.

In: the text the host sent back, in ``== name [pid]`` sections. Out: a ``DeepDive`` record
(``diag.probe.deepdive``, ``parse_deepdive``): capabilities, and per process its perf counters, top
symbols and folded call chains per event with their share, the files behind the faulting addresses,
smaps_rollup, the biggest mappings and the VmLck / VmSwap lines. Each parser is pure; the samples in
the doctests are real output of this machine's perf 6.1 on kernel 6.18.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from diag.probe.deepdive import (
    BpfCounts,
    ChainShare,
    DeepDive,
    MappingRss,
    ProcessCapture,
    SymbolShare,
    TargetShare,
)
from diag.probe.perfstat import parse_perf_stat
from diag.shared.errors import ParseError

Row = TypeVar("Row")

_SAMPLES = re.compile(r"^# Samples: (\S+)\s+of event '([^'/]+)")
# "    50.10%  /tmp/pftry/t2  0x11c3             d [.] touch_pages" (perf report -v --sort dso,sym)
_SYMBOL = re.compile(r"^\s*([\d.]+)%\s+(.*?)\s+(?:0x[0-9a-f]+\s+\S\s+)?\[(.)\]\s+(.*?)\s*$")
_CHAIN = re.compile(r"^([\d.]+)%\s+(\S.*?)\s*$")
_SHARE = re.compile(r"^\s*([\d.]+)%\s+(\S.*?)\s*$")


def _event(line: str) -> str | None:
    match = _SAMPLES.match(line)
    return match[2] if match else None


def _per_event(text: str, row: Callable[[str], Row | None]) -> dict[str, tuple[Row, ...]]:
    """``perf report`` text cut at its ``# Samples: ... of event 'E'`` headers: E -> the rows ``row`` reads
    from the lines under it (``row`` returns None for a line that is not one)."""
    out: dict[str, list[Row]] = {}
    current: str | None = None
    for line in text.splitlines():
        event = _event(line)
        if event is not None:
            current = event
            out.setdefault(current, [])
        elif current is not None and (found := row(line)) is not None:
            out[current].append(found)
    return {event: tuple(rows) for event, rows in out.items()}


def parse_symbols(text: str) -> dict[str, tuple[SymbolShare, ...]]:
    """Top symbols per event from ``perf report --stdio -v --sort dso,sym -g none``.

    >>> parse_symbols('''# Samples: 109  of event 'page-faults/freq=1000/'
    ...     50.10%  /tmp/pftry/t2  0x11c3             d [.] touch_pages
    ...     49.90%  /usr/lib/x86_64-linux-gnu/libc.so.6  0x9a1b0   g [.] __memset_avx2_unaligned_erms
    ... # Samples: 13  of event 'major-faults/freq=1000/'
    ...    100.00%  [kernel.kallsyms]  0xffffffff81a0  g [k] clear_page_erms''')["page-faults"][0]
    SymbolShare(pct=50.1, dso='/tmp/pftry/t2', symbol='touch_pages', kernel=False)
    """

    def row(line: str) -> SymbolShare | None:
        match = _SYMBOL.match(line)
        if not match:
            return None
        pct, dso, level, symbol = match.groups()
        return SymbolShare(float(pct), dso, symbol, kernel=level == "k")

    return _per_event(text, row)


def parse_chains(text: str) -> dict[str, tuple[ChainShare, ...]]:
    """Folded call chains (outermost caller first) per event from ``perf report -g folded,...,caller``.

    >>> parse_chains('''# Samples: 109  of event 'page-faults/freq=1000/'
    ...     50.10%  [.] touch_pages
    ... 50.10% __libc_start_call_main;main;touch_pages
    ... 49.90% __libc_start_call_main;main;read_file''')
    {'page-faults': (ChainShare(pct=50.1, chain=('__libc_start_call_main', 'main', 'touch_pages')), \
ChainShare(pct=49.9, chain=('__libc_start_call_main', 'main', 'read_file')))}
    """

    def row(line: str) -> ChainShare | None:
        match = _CHAIN.match(line)  # the folded lines start in column 0; symbol lines are indented
        return ChainShare(float(match[1]), tuple(match[2].split(";"))) if match else None

    return _per_event(text, row)


def parse_shares(text: str) -> dict[str, tuple[TargetShare, ...]]:
    """What the faulting addresses belong to, per event (``perf report --mem-mode --sort dso_daddr``).

    >>> parse_shares('''# Samples: 13  of event 'major-faults/freq=1000/'
    ...    100.00%  /var/tmp/pfdata
    ... # Samples: 109  of event 'page-faults/freq=1000/'
    ...     77.06%  //anon''')["major-faults"]
    (TargetShare(pct=100.0, target='/var/tmp/pfdata'),)
    """

    def row(line: str) -> TargetShare | None:
        match = _SHARE.match(line)
        return TargetShare(float(match[1]), match[2]) if match else None

    return _per_event(text, row)


def parse_kib_lines(text: str) -> dict[str, int]:
    """``Name: N kB`` lines (smaps_rollup, /proc/PID/status) to {name: KiB}.

    >>> parse_kib_lines("Rss:                1176 kB\\nAnonHugePages:         0 kB\\nVmLck:\\t  64 kB\\nbad")
    {'Rss': 1176, 'AnonHugePages': 0, 'VmLck': 64}
    """
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if sep and len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            out[name.strip()] = int(parts[0])
    return out


def parse_maps(text: str) -> tuple[MappingRss, ...]:
    """The biggest mappings by RSS (``rss_kib perms path`` lines, reduced on the host).

    >>> parse_maps("652 r-xp /usr/lib/x86_64-linux-gnu/libc.so.6\\n404 rw-p [anon]")
    (MappingRss(rss_kib=652, perms='r-xp', path='/usr/lib/x86_64-linux-gnu/libc.so.6'), \
MappingRss(rss_kib=404, perms='rw-p', path='[anon]'))
    """
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit():
            out.append(MappingRss(int(parts[0]), parts[1], parts[2]))
    return tuple(out)


def parse_bpftrace(text: str) -> BpfCounts:
    """``@faults[comm]: N`` counts and the latency histogram's lines from the bpftrace one-liner.

    >>> parse_bpftrace("@faults[app]: 1200\\n@faults[sshd]: 3\\n@latency_us:\\n[0]  900 |@@@@|\\n")
    BpfCounts(faults_by_comm={'app': 1200, 'sshd': 3}, latency_us=('[0]  900 |@@@@|',))
    """
    counts: dict[str, int] = {}
    histogram: list[str] = []
    for line in text.splitlines():
        match = re.match(r"^@faults\[(.*)\]: (\d+)$", line)
        if match:
            counts[match[1]] = int(match[2])
        elif line.startswith("[") or (histogram and line.strip()):
            histogram.append(line.rstrip())
    return BpfCounts(counts, tuple(histogram))


def _sections(text: str) -> list[tuple[str, str, list[str]]]:
    sections: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("== "):
            name, _, arg = line[3:].partition(" ")
            sections.append((name, arg, []))
        elif sections:
            sections[-1][2].append(line)
    return sections


_PARSERS: dict[str, Callable[[str], Any]] = {
    "stat": parse_perf_stat,
    "symbols": parse_symbols,
    "chains": parse_chains,
    "daddr": parse_shares,
    "rollup": parse_kib_lines,
    "status": parse_kib_lines,
    "maps": parse_maps,
}


def parse_deepdive(text: str) -> DeepDive:
    """The whole output: capabilities, the pids a match found, each process, bpftrace's counts.

    >>> d = parse_deepdive("== caps\\nperf -\\nuid 1000\\n== pid 7\\ncomm app\\n"
    ...                    "== rollup 7\\nRss: 8 kB\\n== end\\n")
    >>> d.caps["perf"], d.processes[7].comm, d.processes[7].rollup
    (None, 'app', {'Rss': 8})
    >>> parse_deepdive("== caps\\nperf /usr/bin/perf\\n")
    Traceback (most recent call last):
    diag.shared.errors.ParseError: deep dive output ends early (no '== end' line): the script was cut off
    >>> parse_deepdive("== caps\\nperf -\\n== error match [: awk refuses it: missing ]\\n")
    Traceback (most recent call last):
    diag.shared.errors.ParseError: deep dive failed on the host: match [: awk refuses it: missing ]
    """
    sections = _sections(text)
    for name, arg, _lines in sections:  # the script stops at an error: there is no '== end' then
        if name == "error":
            raise ParseError(f"deep dive failed on the host: {arg}")
    if not sections or sections[-1][0] != "end":
        raise ParseError("deep dive output ends early (no '== end' line): the script was cut off")
    caps: dict[str, str | None] = {}
    processes: dict[int, dict[str, Any]] = {}  # each process's fields, as its sections arrive
    matched: tuple[int, ...] | None = None
    bpftrace: BpfCounts | None = None
    for name, arg, lines in sections:
        body = "\n".join(lines)
        if name == "caps":
            for line in lines:
                key, _, value = line.partition(" ")
                caps[key] = None if value in ("", "-") else value
        elif name == "matched":
            matched = tuple(int(p) for p in arg.split())
        elif name == "bpftrace":
            bpftrace = parse_bpftrace(body)
        elif name == "pid":
            proc: dict[str, Any] = {"pid": int(arg), "gone": lines[:1] == ["gone"]}
            for line in lines:
                key, _, value = line.partition(" ")
                if key in ("comm", "exe"):
                    proc[key] = value
            processes[int(arg)] = proc
        elif arg.isdigit() and int(arg) in processes:
            proc = processes[int(arg)]
            if name in _PARSERS:
                proc[name] = _PARSERS[name](body)
            elif name in ("stat-error", "record-error"):
                proc[name.replace("-", "_")] = body.strip() or None
    captures = {pid: ProcessCapture(**fields) for pid, fields in processes.items()}
    return DeepDive(caps=caps, matched=matched, processes=captures, bpftrace=bpftrace)
