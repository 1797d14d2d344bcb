"""What a watch looks like: the live table (like ``top``), one line per event, and the timeline.

In: the runner's ``WatchSummary`` and ``AlertTracker`` (live: read through the small Protocols below, so
the report stage, which comes before the watch service, never imports it), or the run folder's events
(saved).
Out: text. The live table is redrawn in place on a terminal; without a terminal each alert,
resolved, exit and host-state event is one line; ``pfdiag report`` renders a saved watch as a
markdown timeline (alerts, resolutions, connection changes, and each host's peak rates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from diag.shared.escape import escape_markdown, escape_terminal, md_cell, md_code, md_fence
from diag.shared.units import fmt_rate

CLEAR = "\x1b[H\x1b[2J"


class LiveProcess(Protocol):
    """A process row of the live table (the watch's ``ProcRate``)."""

    @property
    def pid(self) -> int: ...
    @property
    def comm(self) -> str: ...
    @property
    def total_minflt_per_s(self) -> float: ...
    @property
    def total_majflt_per_s(self) -> float: ...


class LiveTick(Protocol):
    """A host's last tick (the watch's ``TickRates``): host-wide rates and its busiest processes."""

    @property
    def rates(self) -> Mapping[str, float | None]: ...
    @property
    def processes(self) -> Sequence[LiveProcess]: ...


class LiveHost(Protocol):
    """A host's line of the live table (the watch's ``HostView``)."""

    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def last(self) -> LiveTick | None: ...


class LiveSummary(Protocol):
    """The watch so far (the watch's ``WatchSummary``)."""

    @property
    def hosts(self) -> Mapping[str, LiveHost]: ...


class LiveSelection(Protocol):
    def wants(self, pid: int, comm: str) -> bool: ...


class LiveRules(Protocol):
    """The rules' states (the watch's ``AlertTracker``): a label per (pid, comm) of a host."""

    @property
    def selection(self) -> LiveSelection: ...
    def labels(self, host: str) -> Mapping[tuple[int | None, str | None], tuple[str, str]]: ...


def _clock(ts: str) -> str:
    return ts[11:19] if len(ts) >= 19 else ts


def event_line(event: Mapping[str, Any]) -> str | None:
    r"""One line for an event (None for samples); what came from the host is escaped, so a process
    name cannot move the cursor, clear the screen or start a line of its own.

    >>> event_line({"type": "alert", "host": "h01", "ts": "2026-12-01T19:40:01.123Z", "pid": 42,
    ...             "comm": "java", "rule": "proc_minflt_per_s", "value": 431093.4, "threshold": 1000})
    '19:40:01 ALERT    h01 pid 42 (java) proc_minflt_per_s 431,093/s >= 1,000/s'
    >>> event_line({"type": "baseline", "host": "h01", "ts": "2026-12-01T19:40:00.000Z",
    ...             "summary": "usual minor/s median 3,100, p95 5,200 over 96 audits in 14 days"})
    '19:40:00 BASELINE h01: usual minor/s median 3,100, p95 5,200 over 96 audits in 14 days'
    >>> event_line({"type": "host-state", "host": "h02", "ts": "2026-12-01T19:40:02.000Z",
    ...             "state": "unreachable", "reason": "TCP connect to 127.0.0.11:22 failed"})
    '19:40:02 HOST     h02 unreachable: TCP connect to 127.0.0.11:22 failed'
    >>> event_line({"type": "exit", "host": "h01", "ts": "2026-12-01T19:40:03.000Z", "pid": 7,
    ...             "comm": "\x1b]0;PWN\x07\nALERT"})
    '19:40:03 EXIT     h01 pid 7 (\\x1b]0;PWN\\x07\\nALERT) exited'
    """
    kind, clock = event.get("type"), escape_terminal(_clock(str(event.get("ts", ""))))
    host, rule = escape_terminal(event.get("host")), escape_terminal(event.get("rule"))
    pid, comm = escape_terminal(event.get("pid")), escape_terminal(event.get("comm"))
    who = "host-wide" if event.get("pid") is None else f"pid {pid} ({comm})"
    if kind == "alert":
        value, limit = fmt_rate(event.get("value")), fmt_rate(event.get("threshold"))
        usual = f" (host: {escape_terminal(event['vs_usual'])})" if event.get("vs_usual") else ""
        return f"{clock} ALERT    {host} {who} {rule} {value}/s >= {limit}/s{usual}"
    if kind == "baseline":
        where = host if event.get("host") is not None else "every host"
        return f"{clock} BASELINE {where}: {escape_terminal(event.get('summary'))}"
    if kind == "resolved":
        why = escape_terminal(event.get("reason", "below threshold"))
        return f"{clock} RESOLVED {host} {who} {rule} ({why}; last {fmt_rate(event.get('value'))}/s)"
    if kind == "exit":
        return f"{clock} EXIT     {host} pid {pid} ({comm}) exited"
    if kind == "host-state":
        if event.get("state") == "ok":
            return f"{clock} HOST     {host} {'reconnected' if event.get('reconnected') else 'connected'}"
        state, reason = escape_terminal(event.get("state")), escape_terminal(event.get("reason"))
        return f"{clock} HOST     {host} {state}: {reason}"
    return None


def _cut(text: object, width: int) -> str:
    r"""Host text made visible (``escape_terminal``), cut to ``width`` between two escapes, not in one.

    >>> _cut("\x1b]0;PWN\x07\x1b[2J", 16), _cut("java", 16)
    ('\\x1b]0;PWN\\x07~', 'java')
    """
    shown = escape_terminal(text)
    if len(shown) <= width:
        return shown
    pieces, used = [], 0
    for char in str(text):
        piece = escape_terminal(char)
        if used + len(piece) > width - 1:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + "~"


def render_table(
    summary: LiveSummary,
    tracker: LiveRules,
    title: str,
    rows: int = 40,
    width: int = 100,
    usual: Mapping[str, str] | None = None,
) -> str:
    """The live table: a title line, then per host its host-wide rates (against its usual ones, when
    ``usual`` has its last comparison) and busiest processes."""
    head = f"{'host':<12} {'pid':>8} {'comm':<16} {'minor/s':>11} {'major/s':>9}  state"
    lines = [_cut(title, width), "", head, "-" * min(width, len(head) + 20)]
    per_host = max(1, (rows - 4) // max(1, len(summary.hosts)) - 1)
    for host, view in summary.hosts.items():
        labels = tracker.labels(host)
        host_label = labels.get((None, None), ("", ""))
        name = _cut(host, width)
        if view.state != "ok":
            why = _cut(f"{view.state}: {view.reason or ''}", width)
            lines.append(f"{name:<12} {'':>8} {'':<16} {'':>11} {'':>9}  {why}"[:width])
            continue
        if view.last is None:
            lines.append(f"{name:<12} {'':>8} {'(host)':<16} {'…':>11} {'…':>9}  waiting for the 2nd tick")
            continue
        rates = view.last.rates
        state = f"{host_label[0]} {host_label[1]} {(usual or {}).get(host, '')}".strip()
        lines.append(
            f"{name:<12} {'-':>8} {'(host)':<16} {fmt_rate(rates.get('minflt_per_s')):>11}"
            f" {fmt_rate(rates.get('majflt_per_s')):>9}  {state}"
        )
        procs = list(view.last.processes)
        shown = [p for p in procs if (p.pid, p.comm) in labels] + [
            p for p in procs if (p.pid, p.comm) not in labels
        ]
        for proc in [p for p in shown if tracker.selection.wants(p.pid, p.comm)][:per_host]:
            label, rule = labels.get((proc.pid, proc.comm), ("", ""))
            lines.append(
                f"{'':<12} {proc.pid:>8} {_cut(proc.comm, 16):<16} {fmt_rate(proc.total_minflt_per_s):>11}"
                f" {fmt_rate(proc.total_majflt_per_s):>9}  {label} {rule}".rstrip()
            )
    return "\n".join(line[:width] for line in lines[:rows])


def render_timeline(meta: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> str:
    """A saved watch as markdown: what was asked, the events in order, each host's peaks."""
    alerts = [e for e in events if e.get("type") == "alert"]
    hosts = list(meta.get("hosts") or sorted({str(e.get("host")) for e in events}))
    out = [f"# pfdiag watch {escape_markdown(meta.get('started', ''))}", ""]
    state = (
        "interrupted (Ctrl-C)" if meta.get("interrupted") else f"ended ({meta.get('ended_by') or 'killed'})"
    )
    out.append(
        f"{len(hosts)} host(s), every {meta.get('every_s')} s, {state}: **{len(alerts)} alert(s)**, "
        f"{sum(1 for e in events if e.get('type') == 'resolved')} resolved, "
        f"{sum(1 for e in events if e.get('type') == 'host-state' and e.get('state') != 'ok')}"
        " connection problem(s)."
    )
    out += ["", "## Timeline", ""]
    lines = [line for line in (event_line(e) for e in events) if line]
    out += [
        *md_fence(lines or ["(no alerts, exits or connection changes)"], visible=True),
        "",
        "## Peaks per host",
        "",
    ]
    out += [
        "| host | ticks | peak minor/s | peak major/s | busiest process (minor/s) |",
        "|---|---:|---:|---:|---|",
    ]
    for host in hosts:
        samples = [e for e in events if e.get("type") == "sample" and e.get("host") == host]
        out.append(_peak_row(host, samples))
    thresholds = meta.get("thresholds") or {}
    if thresholds:
        out += ["", "Thresholds: " + ", ".join(f"{md_code(k)} {fmt_rate(v)}" for k, v in thresholds.items())]
    return "\n".join(out) + "\n"


def _peak_row(host: str, samples: Iterable[Mapping[str, Any]]) -> str:
    samples = list(samples)
    minor = max((s["rates"].get("minflt_per_s") or 0 for s in samples), default=None)
    major = max((s["rates"].get("majflt_per_s") or 0 for s in samples), default=None)
    best: tuple[float, str] = (0.0, "")
    for sample in samples:
        for proc in sample.get("processes") or ():
            # own + children; in a watch saved by an older pfdiag, minflt_per_s was the total
            total = proc.get("total_minflt_per_s", proc.get("minflt_per_s", 0))
            if total > best[0]:
                best = (total, f"{proc.get('comm')}[{proc.get('pid')}] {fmt_rate(total)}")
    cells = [host, len(samples), fmt_rate(minor), fmt_rate(major), best[1] or "-"]
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"
