"""Parsers of the deep dive's output (``deepdive.sh``): perf stat, perf report, smaps, bpftrace.

In: the text the host sent back, in ``== name [pid]`` sections. Out: plain dicts (``parse_deepdive``):
capabilities, and per process its perf counters, top symbols and folded call chains per event with
their share, the files behind the faulting addresses, smaps_rollup, the biggest mappings and the
VmLck / VmSwap lines. Each parser is pure; the samples in the doctests are real output of this
machine's perf 6.1 on kernel 6.18.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from diag.probe.perfstat import parse_perf_stat
from diag.shared.errors import ParseError

_SAMPLES = re.compile(r"^# Samples: (\S+)\s+of event '([^'/]+)")
# "    50.10%  /tmp/pftry/t2  0x11c3             d [.] touch_pages" (perf report -v --sort dso,sym)
_SYMBOL = re.compile(r"^\s*([\d.]+)%\s+(.*?)\s+(?:0x[0-9a-f]+\s+\S\s+)?\[(.)\]\s+(.*?)\s*$")
_CHAIN = re.compile(r"^([\d.]+)%\s+(\S.*?)\s*$")
_SHARE = re.compile(r"^\s*([\d.]+)%\s+(\S.*?)\s*$")


def _event(line: str) -> str | None:
    match = _SAMPLES.match(line)
    return match[2] if match else None


def _per_event(text: str, row: Callable[[str], dict[str, Any] | None]) -> dict[str, list[dict[str, Any]]]:
    """``perf report`` text cut at its ``# Samples: ... of event 'E'`` headers: E -> the rows ``row`` reads
    from the lines under it (``row`` returns None for a line that is not one)."""
    out: dict[str, list[dict[str, Any]]] = {}
    current: str | None = None
    for line in text.splitlines():
        event = _event(line)
        if event is not None:
            current = event
            out.setdefault(current, [])
        elif current is not None and (found := row(line)) is not None:
            out[current].append(found)
    return out


def parse_symbols(text: str) -> dict[str, list[dict[str, Any]]]:
    """Top symbols per event from ``perf report --stdio -v --sort dso,sym -g none``.

    >>> parse_symbols('''# Samples: 109  of event 'page-faults/freq=1000/'
    ...     50.10%  /tmp/pftry/t2  0x11c3             d [.] touch_pages
    ...     49.90%  /usr/lib/x86_64-linux-gnu/libc.so.6  0x9a1b0   g [.] __memset_avx2_unaligned_erms
    ... # Samples: 13  of event 'major-faults/freq=1000/'
    ...    100.00%  [kernel.kallsyms]  0xffffffff81a0  g [k] clear_page_erms''')["page-faults"][0]
    {'pct': 50.1, 'dso': '/tmp/pftry/t2', 'symbol': 'touch_pages', 'kernel': False}
    """

    def row(line: str) -> dict[str, Any] | None:
        match = _SYMBOL.match(line)
        if not match:
            return None
        pct, dso, level, symbol = match.groups()
        return {"pct": float(pct), "dso": dso, "symbol": symbol, "kernel": level == "k"}

    return _per_event(text, row)


def parse_chains(text: str) -> dict[str, list[dict[str, Any]]]:
    """Folded call chains (outermost caller first) per event from ``perf report -g folded,...,caller``.

    >>> parse_chains('''# Samples: 109  of event 'page-faults/freq=1000/'
    ...     50.10%  [.] touch_pages
    ... 50.10% __libc_start_call_main;main;touch_pages
    ... 49.90% __libc_start_call_main;main;read_file''')
    {'page-faults': [{'pct': 50.1, 'chain': ['__libc_start_call_main', 'main', 'touch_pages']}, \
{'pct': 49.9, 'chain': ['__libc_start_call_main', 'main', 'read_file']}]}
    """

    def row(line: str) -> dict[str, Any] | None:
        match = _CHAIN.match(line)  # the folded lines start in column 0; symbol lines are indented
        return {"pct": float(match[1]), "chain": match[2].split(";")} if match else None

    return _per_event(text, row)


def parse_shares(text: str) -> dict[str, list[dict[str, Any]]]:
    """What the faulting addresses belong to, per event (``perf report --mem-mode --sort dso_daddr``).

    >>> parse_shares('''# Samples: 13  of event 'major-faults/freq=1000/'
    ...    100.00%  /var/tmp/pfdata
    ... # Samples: 109  of event 'page-faults/freq=1000/'
    ...     77.06%  //anon''')["major-faults"]
    [{'pct': 100.0, 'target': '/var/tmp/pfdata'}]
    """

    def row(line: str) -> dict[str, Any] | None:
        match = _SHARE.match(line)
        return {"pct": float(match[1]), "target": match[2]} if match else None

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


def parse_maps(text: str) -> list[dict[str, Any]]:
    """The biggest mappings by RSS (``rss_kib perms path`` lines, reduced on the host).

    >>> parse_maps("652 r-xp /usr/lib/x86_64-linux-gnu/libc.so.6\\n404 rw-p [anon]")
    [{'rss_kib': 652, 'perms': 'r-xp', 'path': '/usr/lib/x86_64-linux-gnu/libc.so.6'}, \
{'rss_kib': 404, 'perms': 'rw-p', 'path': '[anon]'}]
    """
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit():
            out.append({"rss_kib": int(parts[0]), "perms": parts[1], "path": parts[2]})
    return out


def parse_bpftrace(text: str) -> dict[str, Any]:
    """``@faults[comm]: N`` counts and the latency histogram's lines from the bpftrace one-liner.

    >>> parse_bpftrace("@faults[app]: 1200\\n@faults[sshd]: 3\\n@latency_us:\\n[0]  900 |@@@@|\\n")
    {'faults_by_comm': {'app': 1200, 'sshd': 3}, 'latency_us': ['[0]  900 |@@@@|']}
    """
    counts: dict[str, int] = {}
    histogram: list[str] = []
    for line in text.splitlines():
        match = re.match(r"^@faults\[(.*)\]: (\d+)$", line)
        if match:
            counts[match[1]] = int(match[2])
        elif line.startswith("[") or (histogram and line.strip()):
            histogram.append(line.rstrip())
    return {"faults_by_comm": counts, "latency_us": histogram}


def _sections(text: str) -> list[tuple[str, str, list[str]]]:
    sections: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("== "):
            name, _, arg = line[3:].partition(" ")
            sections.append((name, arg, []))
        elif sections:
            sections[-1][2].append(line)
    return sections


def parse_deepdive(text: str) -> dict[str, Any]:
    """The whole output: ``{caps, matched, processes: {pid: {...}}, bpftrace}``.

    >>> d = parse_deepdive("== caps\\nperf -\\nuid 1000\\n== pid 7\\ncomm app\\n"
    ...                    "== rollup 7\\nRss: 8 kB\\n== end\\n")
    >>> d["caps"]["perf"], d["processes"][7]["comm"], d["processes"][7]["rollup"]
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
    processes: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {"caps": caps, "matched": None, "processes": processes, "bpftrace": None}
    for name, arg, lines in sections:
        body = "\n".join(lines)
        if name == "caps":
            for line in lines:
                key, _, value = line.partition(" ")
                caps[key] = None if value in ("", "-") else value
        elif name == "matched":
            out["matched"] = [int(p) for p in arg.split()]
        elif name == "bpftrace":
            out["bpftrace"] = parse_bpftrace(body)
        elif name == "pid":
            proc: dict[str, Any] = {"pid": int(arg), "gone": lines[:1] == ["gone"]}
            for line in lines:
                key, _, value = line.partition(" ")
                if key in ("comm", "exe"):
                    proc[key] = value
            processes[int(arg)] = proc
        elif arg.isdigit() and int(arg) in processes:
            proc = processes[int(arg)]
            parsers: dict[str, Any] = {
                "stat": parse_perf_stat,
                "symbols": parse_symbols,
                "chains": parse_chains,
                "daddr": parse_shares,
                "rollup": parse_kib_lines,
                "status": parse_kib_lines,
                "maps": parse_maps,
            }
            if name in parsers:
                proc[name] = parsers[name](body)
            elif name in ("stat-error", "record-error"):
                proc[name.replace("-", "_")] = body.strip() or None
    return out
