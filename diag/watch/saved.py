"""A saved watch read back: its run folder's ``run.json`` and ``events.jsonl``, for ``pfdiag report``.

In: a run folder. Out: a ``SavedWatch`` (the metadata, the events in order as the records of
diag/runs/events.py, and one sentence per line or field that was skipped). Both files go through
``safeio.read_text`` like every file pfdiag reads (regular files only, bounded: a FIFO or ``/dev/zero``
is refused, not waited on). The files are JSON a person may edit: a line that is not an event of the
expected shape (``"rates": null``, a rate that is a string, an alert without ``rule``, ``null``) is named
by file:line and skipped, and the rest is rendered, as a cut last line of ``hosts.jsonl`` is; an event
type this version does not know is kept (a newer pfdiag may write it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diag.runs.events import WatchEvent, decode_event
from diag.runs.store import read_run_json
from diag.shared.errors import DiagError, ReportError
from diag.shared.files import read_text
from diag.shared.limits import MAX_RUN_LOG_BYTES, as_number

# a process's rates in a sample event (total_*: own + children, absent from watches of older pfdiags)
RATE_KEYS = ("minflt_per_s", "majflt_per_s", "children_minflt_per_s", "children_majflt_per_s")
TOTAL_KEYS = ("total_minflt_per_s", "total_majflt_per_s")


@dataclass(frozen=True, slots=True)
class SavedWatch:
    meta: dict[str, Any]
    events: tuple[WatchEvent, ...]
    problems: tuple[str, ...] = ()  # what was skipped, one sentence each, with file:line


def is_watch_run(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a watch (``pfdiag report`` then renders its timeline).

    Anything unreadable is "not a watch": the run folder reader then says what is wrong with it.
    """
    try:
        meta = read_run_json(run_dir)
    except (OSError, DiagError):
        return False
    return isinstance(meta, dict) and meta.get("kind") == "watch"


def load_watch(run_dir: Path) -> SavedWatch:
    """A saved watch's metadata and events; ``ReportError`` only when a file cannot be read at all."""
    meta_path, events_path = run_dir / "run.json", run_dir / "events.jsonl"
    try:
        meta = json.loads(read_text(meta_path, what="run metadata", error=ReportError))
        text = read_text(events_path, what="watch events", error=ReportError, limit=MAX_RUN_LOG_BYTES)
    except FileNotFoundError as exc:
        raise ReportError(f"cannot read the watch in {str(run_dir)!r}: {exc.filename} is missing") from None
    except ValueError as exc:
        raise ReportError(f"run.json is not JSON: {exc}", where=str(meta_path)) from None
    if not isinstance(meta, dict):
        raise ReportError("run.json is not a JSON object", where=str(meta_path))
    problems = [f"{meta_path}: {p}; ignored" for p in _meta_problems(meta)]
    events: list[WatchEvent] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            cut = "cut short (the watch was killed mid-write)" if number == len(lines) else "not JSON"
            problems.append(f"{events_path}:{number} is {cut}; skipped")
            continue
        problem = event_problem(event)
        if problem:
            problems.append(f"{events_path}:{number}: {problem}; skipped")
        else:
            events.append(decode_event(event))
    return SavedWatch(meta, tuple(events), tuple(problems))


def _number(value: Any) -> bool:
    number = as_number(value)
    return number is not None and math.isfinite(number)


def _meta_problems(meta: dict[str, Any]) -> list[str]:
    """What in ``run.json`` the timeline cannot use; each such field is dropped from ``meta``."""
    checks = {
        "started": lambda v: isinstance(v, str),
        "every_s": lambda v: v is None or _number(v),
        "hosts": lambda v: v is None or (isinstance(v, list) and all(isinstance(h, str) for h in v)),
        "thresholds": lambda v: v is None or (isinstance(v, dict) and all(_number(x) for x in v.values())),
        "ended_by": lambda v: v is None or isinstance(v, str),
    }
    problems = []
    for key, valid in checks.items():
        if key in meta and not valid(meta[key]):
            problems.append(f"{key!r} is {_shown(meta.pop(key))}, not what a watch writes")
    return problems


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def event_problem(event: Any) -> str | None:
    """Why ``event`` cannot be rendered, None when it can.

    >>> event_problem({"type": "sample", "host": "h1", "rates": None, "processes": []})
    "'rates' is null, not a mapping of numbers"
    >>> event_problem({"type": "alert", "host": "h1", "pid": None, "value": 5, "threshold": 1})
    "an event of type 'alert' without 'rule'"
    >>> event_problem({"type": "exit", "host": "h1", "pid": 42, "comm": "java"}) is None
    True
    >>> event_problem({"type": "baseline", "host": None, "ts": "t", "summary": "no history"}) is None
    True
    """
    if not isinstance(event, dict):
        return f"{_shown(event)} is not a JSON object"
    kind, host = event.get("type"), event.get("host")
    # host null: the one baseline event saying that no host has a history
    if not isinstance(kind, str) or not (isinstance(host, str) or (kind == "baseline" and host is None)):
        return "an event needs a 'type' and a 'host' (strings)"
    if kind == "sample":
        return _sample_problem(event)
    if kind in ("alert", "resolved"):
        if not isinstance(event.get("rule"), str):
            return f"an event of type {kind!r} without 'rule'"
        for key in ("value", "threshold"):
            if event.get(key) is not None and not _number(event[key]):
                return f"{key!r} is {_shown(event[key])}, not a number"
    if kind in ("alert", "resolved", "exit"):
        pid = event.get("pid")
        if not (pid is None and kind != "exit") and (isinstance(pid, bool) or not isinstance(pid, int)):
            return f"'pid' is {_shown(pid)}, not a process id"
    return None


def _sample_problem(event: Mapping[str, Any]) -> str | None:
    rates = event.get("rates")
    if not isinstance(rates, dict) or not all(v is None or _number(v) for v in rates.values()):
        return f"'rates' is {_shown(rates)}, not a mapping of numbers"
    processes = event.get("processes", [])
    if not isinstance(processes, list):
        return f"'processes' is {_shown(processes)}, not a list"
    for proc in processes:
        if not isinstance(proc, dict) or not all(_number(proc.get(k, 0)) for k in (*RATE_KEYS, *TOTAL_KEYS)):
            return f"a process {_shown(proc)} without numeric rates"
    return None
