"""What a run folder promises and what it holds: ``run.json`` checked field by field, and the planned
hosts that never reached ``hosts.jsonl``.

In: the decoded ``run.json`` and the hosts read back from ``hosts.jsonl``. Out: the metadata (or a
``ReportError`` naming the field), and a result for each planned host without one, so a report of a
killed run says which hosts never finished instead of leaving them out.

>>> meta = {"playbook": "t.yml", "inventory": [], "limit": None, "started": "x"}
>>> check_metadata(meta, "run.json")["playbook"]
't.yml'
>>> check_metadata(["not", "a", "mapping"], "run.json")
Traceback (most recent call last):
...
diag.shared.errors.ReportError: run.json: run.json must hold a JSON object, got list
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from diag.findings import HostResult
from diag.shared.errors import ReportError

# run.json lists the hosts a run was going to run, written before the first one starts
PLANNED_HOSTS = "planned_hosts"
_NONE = type(None)
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "playbook": (str,),
    "inventory": (list,),
    "limit": (str, _NONE),
    "started": (str,),
    "finished": (str, _NONE),
    "argv": (list,),
    "extra_vars": (dict,),
    "interval_s": (int, float, _NONE),
    "interrupted": (bool,),
    "version": (str,),
    "run_dir": (str, _NONE),
    PLANNED_HOSTS: (list,),
}
REQUIRED = ("playbook", "inventory", "limit", "started")


def check_metadata(meta: Any, where: str) -> dict[str, Any]:
    """``run.json``'s object with every known field of the type pfdiag writes; ``ReportError`` otherwise."""
    if not isinstance(meta, dict):
        raise ReportError(f"run.json must hold a JSON object, got {type(meta).__name__}", where=where)
    for key in REQUIRED:
        if key not in meta:
            raise ReportError(f"run.json lacks the field {key!r}", where=where)
    for key, types in FIELD_TYPES.items():
        if key in meta and (not isinstance(meta[key], types) or (bool not in types and meta[key] is True)):
            wanted = " or ".join("null" if t is _NONE else t.__name__ for t in types)
            raise ReportError(
                f"run.json field {key!r} must be {wanted}, got {type(meta[key]).__name__}", where=where
            )
    planned = meta.get(PLANNED_HOSTS, [])
    if not all(isinstance(name, str) for name in planned):
        raise ReportError(f"run.json field {PLANNED_HOSTS!r} must list host names", where=where)
    return meta


def never_finished(planned: Iterable[str], hosts: Iterable[HostResult]) -> list[HostResult]:
    """A result (status ``interrupted``) for each planned host that has none in ``hosts.jsonl``."""
    done = {host.host for host in hosts}
    return [
        HostResult(
            host=name,
            status="interrupted",
            reason="never finished: no result in hosts.jsonl (the run was stopped or killed first)",
        )
        for name in dict.fromkeys(planned)
        if name not in done
    ]
