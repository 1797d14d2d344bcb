"""Per-workload fault rates: each memory cgroup's own ``pgfault``/``pgmajfault`` over the interval.

In: the probe's ``workloads`` section. The probe reads ``memory.stat`` of every memory cgroup at both
snapshots (v1 ``total_pgfault``/``total_pgmajfault``, v2 ``pgfault``/``pgmajfault``: both count the
cgroup and its descendants) and sends the deltas of the cgroups that matter: the ``top_n`` leaf cgroups
by major and by minor faults, and every cgroup holding a top process; then what it read of the
container bundles of those cgroups. Out: ``WorkloadFaults`` rows, each with its named ``Workload``.

Because the kernel charges a fault to the cgroup when it happens, a container's faults are counted
even when the processes that made them exited before the second snapshot: the ``perf stat -G`` view of
every container at once, which per-process deltas cannot give.

>>> rows, bundles, note = parse_workloads_section("1 212 0 /sys/fs/cgroup/memory", (
...     "memcg 0 412345 2 /kubepods/besteffort/pod3f6c1a2e-8d4b-4c1e-9a7f-0b2c3d4e5f60/" + "9b" * 32,
...     'bundle-key ' + "9b" * 32 + ' "io.kubernetes.cri.sandbox-name":"checkout-7d9f8-x2bq4"',
...     "bundle " + "9b" * 32 + " ok keys /run/containerd/io.containerd.runtime.v2.task/k8s.io/9b/c.json",
...     "memcg 1 800 0 /system.slice/cron.service",
... ))
>>> rows[0].minflt_delta, rows[0].majflt_delta, rows[1].new, rows[1].path, note
(412345, 2, True, '/system.slice/cron.service', None)
>>> bundles["9b" * 32]
({'io.kubernetes.cri.sandbox-name': 'checkout-7d9f8-x2bq4'}, None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from diag.probe.workload import Workload, name_cgroup, parse_bundle_keys, with_bundle
from diag.shared.errors import ParseError

Bundles = dict[str, tuple[dict[str, str], str | None]]


@dataclass(frozen=True, slots=True)
class MemcgDelta:
    """One ``memcg NEW MINOR MAJOR PATH`` row: a cgroup's fault deltas over the interval."""

    path: str
    minflt_delta: int
    majflt_delta: int
    new: bool  # created during the interval: its counters are all in it


@dataclass(frozen=True, slots=True)
class WorkloadFaults:
    """A memory cgroup's faults over the interval and the workload it runs.

    ``process_share_pct``: how much of them the top processes listed in it explain (own + reaped
    children); low means the cgroup, not one process, is the story (short-lived processes, many
    small ones). ``busiest_pid``/``busiest_comm``: its busiest listed process, if any.
    """

    memcg: str
    workload: Workload
    minflt_per_s: float | None = None
    majflt_per_s: float | None = None
    minflt_delta: int = 0
    majflt_delta: int = 0
    new: bool = False
    processes: int = 0
    process_share_pct: float | None = None
    busiest_pid: int | None = None
    busiest_comm: str | None = None

    @property
    def shown(self) -> bool:
        """A workload a user knows (a unit, pod or container) that faulted: what the fleet's workload
        table and the textfile's series show."""
        return self.workload.named and bool(self.minflt_delta or self.majflt_delta)


def _int(text: str, line: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ParseError(f"expected 'memcg NEW MINOR MAJOR PATH': {line!r}", where="probe workloads")
    return int(text)


def parse_memcg_row(line: str) -> MemcgDelta:
    """``memcg 0 412345 2 /kubepods/...`` -> MemcgDelta (the path may hold spaces: it is last).

    >>> parse_memcg_row("memcg 0 1200 3 /system.slice/my app.service")
    MemcgDelta(path='/system.slice/my app.service', minflt_delta=1200, majflt_delta=3, new=False)
    """
    words = line.split(" ", 4)
    if len(words) != 5 or words[0] != "memcg" or words[1] not in ("0", "1") or not words[4].startswith("/"):
        raise ParseError(f"expected 'memcg NEW MINOR MAJOR PATH': {line!r}", where="probe workloads")
    return MemcgDelta(words[4], _int(words[2], line), _int(words[3], line), words[1] == "1")


def parse_workloads_section(args: str, lines: Sequence[str]) -> tuple[list[MemcgDelta], Bundles, str | None]:
    """The section's rows, the bundles read (id -> (name keys, why not readable)), and a note when the
    probe read fewer cgroups than there are (``cut``)."""
    head = args.split(" ", 3)
    note = None
    if len(head) >= 3 and head[2] == "1":
        note = (
            f"more memory cgroups than the probe reads ({head[1]}): per-workload faults of the rest not read"
        )
    rows: list[MemcgDelta] = []
    keys: dict[str, list[str]] = {}
    bundles: Bundles = {}
    for line in lines:
        if line.startswith("memcg "):
            rows.append(parse_memcg_row(line))
        elif line.startswith("bundle-key "):
            words = line.split(" ", 2)
            if len(words) != 3:
                raise ParseError(f"expected 'bundle-key ID KEY:VALUE': {line!r}", where="probe workloads")
            keys.setdefault(words[1], []).append(words[2])
        elif line.startswith("bundle "):
            # bundle ID ok keys|nokeys FILE, or bundle ID unreadable FILE REASON (one per file tried)
            _, cid, state, rest = [*line.split(" ", 3), "", "", ""][:4]
            if state == "ok":
                found, _, path = rest.partition(" ")
                why = None if found == "keys" else f"no names in the first bytes of {path}"
                bundles[cid] = (parse_bundle_keys(keys.get(cid, [])), why)
            elif cid not in bundles or bundles[cid][1] is not None:
                path, _, reason = rest.partition(" ")
                earlier = f"{bundles[cid][1]}; " if cid in bundles else ""
                bundles[cid] = ({}, f"{earlier}bundle {path} not readable: {reason or 'unknown error'}")
    return rows, bundles, note


def name_workload(path: str, bundles: Bundles) -> Workload:
    """The named workload of a cgroup path, with its bundle's names when the probe read them.

    >>> name_workload("/docker/" + "ef" * 32, {"ef" * 32: ({"Name": "/web"}, None)}).label
    'container web (docker)'
    >>> name_workload("/docker/" + "ef" * 32, {}).reason
    'bundle not read'
    """
    w = name_cgroup(path)
    if w.container_id is None:
        return w
    keys, problem = bundles.get(w.container_id, (None, "bundle not read"))
    return with_bundle(w, keys, problem)
