"""Fleet aggregation: per-host results -> tidy pandas frames, fleet summary, outliers, cross-host culprits.

In: a ``RunResult``. Out: a ``FleetView`` holding the host frame (one row per host: state, verdict,
rates, memory, PSI, robust z-scores), the process frame (one row per top process per host), the
findings frame (one row per check per host), and what is derived from them: rate percentiles,
outliers against their inventory-group peers, and the same command faulting on many hosts. Every
report and export renders from these frames; this is the one module that imports pandas to aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from diag.findings import HostResult, RunResult, Severity, VerdictCode, was_judged
from diag.probe.measurements import Memory, Process, Psi, Rates
from diag.probe.workload import Workload, workload_group
from diag.shared.hostlist import fold_hosts

# Outliers: Iglewicz & Hoaglin (1993), "How to Detect and Handle Outliers": a modified z-score
# 0.6745 * (x - median) / MAD above 3.5 marks a potential outlier. Computed on log1p(rate), because
# fault rates spread over orders of magnitude; only the high side matters for triage.
Z_CUTOFF = 3.5
MIN_PEERS = 5  # smaller inventory groups are compared with the whole fleet instead
# A host also needs a rate that matters, or a "standout" is noise on quiet hosts: for majors the
# playbook's per-process threshold (one process at it is worth a look), for minors a tenth of its
# host-wide one. The thresholds are the playbook's, read from the findings by what they measure
# (a check's ``measures:``, e.g. ``process.total_majflt_per_s``): (measures, factor) per host rate.
FLOOR_RULES = {
    "majflt_per_s": ("process.total_majflt_per_s", 1.0),
    "minflt_per_s": ("host.minflt_per_s", 0.1),
}
# swap-ins are pswpin + zswpin, the value the verdict uses
KEY_RATES = ("majflt_per_s", "minflt_per_s", "swapin_per_s", "psi_memory_some_pct")
SUMMARY_RATES = (*KEY_RATES, "pswpin_per_s")  # the JSON summary keeps the pswpin it always had
# Worst first, by the one verdict rank (``VerdictCode.rank``): the order of every fleet table.
VERDICT_ORDER = tuple(c.value for c in VerdictCode.worst_first())
PROBLEM_VERDICTS = tuple(c.value for c in VerdictCode.worst_first() if c.problem)

RATE_COLUMNS = [
    "minflt_per_s", "majflt_per_s", "pgfault_per_s", "pswpin_per_s", "pswpout_per_s",
    "workingset_refault_file_per_s", "disk_read_kib_per_s", "pgscan_direct_per_s",
]  # fmt: skip
# Columns added after the documented ones, so no existing column moves.
EXTRA_RATE_COLUMNS = ["swapin_per_s"]
PSI_COLUMNS = ["psi_memory_some_pct", "psi_memory_full_pct", "psi_io_some_pct"]
MEMORY_COLUMNS = ["mem_total_kib", "mem_available_pct", "swap_used_pct"]
HOST_COLUMNS = [
    "host", "group", "groups", "state", "reason", "verdict", "severity", "summary",
    *RATE_COLUMNS, *PSI_COLUMNS, *MEMORY_COLUMNS,
    "top_culprit", "culprit_comms", "interval_s", "kernel", "elapsed_s",
]  # fmt: skip
# top_workload: where the top culprit runs (report.md's headline); not a hosts.csv column
HOST_FRAME_COLUMNS = [*HOST_COLUMNS, *EXTRA_RATE_COLUMNS, "top_workload"]
PROCESS_COLUMNS = [
    "host", "group", "verdict", "culprit", "pid", "comm", "state", "minflt_per_s", "majflt_per_s",
    "rss_kib", "swap_kib", "lck_kib", "new", "cgroup", "children_minflt_per_s", "children_majflt_per_s",
]  # fmt: skip
# What the process runs in (diag/probe/workload.py), after the documented columns so none moves.
WORKLOAD_COLUMNS = ["workload", "workload_kind", "unit", "namespace", "pod", "container", "container_id"]
PROCESS_FRAME_COLUMNS = [*PROCESS_COLUMNS, *WORKLOAD_COLUMNS]
WORKLOAD_GROUP_COLUMNS = [
    "workload", "kind", "hosts", "of_hosts", "host_range", "culprit_hosts", "minflt_per_s", "majflt_per_s",
]  # fmt: skip
FINDING_COLUMNS = [
    "host", "group", "verdict", "check", "task", "status", "severity", "value", "op", "threshold",
    "message", "reason",
]  # fmt: skip
FINDING_FRAME_COLUMNS = [*FINDING_COLUMNS, "measures"]


def host_group(host: HostResult) -> str:
    """The inventory group a host is compared within: its first group, ``all`` when it has none."""
    return host.group_names[0] if host.group_names else "all"


def severity_rank(name: object) -> int:
    """``critical`` 3 ... ``ok`` 0 (``Severity.read``: an unknown name ranks as ``info``); no verdict -1.

    >>> severity_rank("critical"), severity_rank("severe"), severity_rank(None)
    (3, 1, -1)
    """
    return Severity.read(name).rank if isinstance(name, str) else -1  # None, or NaN in a frame


def verdict_rank(code: object) -> int:
    """Worst first: 0 for ``major-swap`` ... 4 for ``ok`` (``VerdictCode.read``: unknown ranks as
    ``not-evaluable``); no verdict last.

    >>> verdict_rank("major-swap"), verdict_rank("not-evaluable"), verdict_rank("ok"), verdict_rank(None)
    (0, 3, 4, 5)
    """
    if not isinstance(code, str):  # None, or NaN in a frame
        return len(VERDICT_ORDER)
    return VERDICT_ORDER.index(VerdictCode.read(code))


def _host_row(host: HostResult) -> dict[str, Any]:
    sample = host.sample
    rates = sample.rates if sample else Rates()
    psi = sample.psi if sample else Psi()
    memory = sample.memory if sample else Memory()
    facts = host.host_facts
    culprits = host.verdict.culprits if host.verdict else ()
    # The verdict lists culprits in probe order (majors first); the top one is the one with the most
    # faults of the kind that made the verdict.
    minor = host.verdict is not None and host.verdict.code == VerdictCode.minor_storm
    culprits = tuple(
        sorted(culprits, key=lambda c: -(c.total_minflt_per_s if minor else c.total_majflt_per_s))
    )
    return {
        "host": host.host,
        "group": host_group(host),
        "groups": ";".join(host.group_names),
        "state": host.status,
        "reason": host.reason,
        "verdict": host.verdict.code if host.verdict else None,
        "severity": host.verdict.severity if host.verdict else None,
        "summary": " ".join(host.verdict.summary.split()) if host.verdict else None,
        **{k: getattr(rates, k) for k in (*RATE_COLUMNS, *EXTRA_RATE_COLUMNS)},
        **{k: getattr(psi, k.removeprefix("psi_")) for k in PSI_COLUMNS},
        **{k: getattr(memory, k) for k in MEMORY_COLUMNS},
        "top_culprit": f"{culprits[0].comm}[{culprits[0].pid}]" if culprits else None,
        "top_workload": _named(culprits[0].workload) if culprits else None,
        "culprit_comms": ";".join(dict.fromkeys(c.comm for c in culprits)),
        "interval_s": sample.interval_s if sample else None,
        "kernel": facts.kernel if facts else None,
        "elapsed_s": host.elapsed_s,
    }


def host_frame(run: RunResult) -> pd.DataFrame:
    """One row per host, in run order; rates are NaN where the host did not produce them."""
    frame = _frame((_host_row(h) for h in run.hosts), HOST_FRAME_COLUMNS)
    numeric = [*RATE_COLUMNS, *EXTRA_RATE_COLUMNS, *PSI_COLUMNS, *MEMORY_COLUMNS, "interval_s", "elapsed_s"]
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    frame["severity_rank"] = [severity_rank(s) for s in frame["severity"]]
    # completed with a verdict that judged it (``was_judged``: an unknown stored code is not a judgement)
    frame["judged"] = [was_judged(h.status, h.verdict.code if h.verdict else None) for h in run.hosts]
    return frame


def process_frame(run: RunResult) -> pd.DataFrame:
    """One row per top process per host; ``culprit`` is true for the processes the verdict named.

    Of a run holding its hosts in brief (``HostResult.brief``) that is the culprits only: what the
    fleet tables read; ``processes.csv`` is written from each host's whole result (``process_rows``).
    """
    rows = [row for host in run.hosts for row in process_rows(host)]
    return pd.DataFrame(rows, columns=PROCESS_FRAME_COLUMNS)


def process_rows(host: HostResult) -> list[dict[str, Any]]:
    """The process frame's rows of one host (a workload's cells only when the process has one)."""
    named = {c.pid for c in host.verdict.culprits} if host.verdict else set()
    verdict = host.verdict.code if host.verdict else None
    processes: tuple[Process, ...] = host.sample.processes if host.sample else ()
    rows = []
    for proc in processes:
        row = {k: getattr(proc, k) for k in PROCESS_COLUMNS[4:]}
        row.update(host=host.host, group=host_group(host), verdict=verdict, culprit=proc.pid in named)
        row.update(_workload_cells(proc.workload))
        rows.append(row)
    return rows


def _named(w: Workload | None) -> str | None:
    """The label of a workload a user knows (a unit, pod or container), None for a plain cgroup."""
    return w.label if w is not None and w.named else None


def _workload_cells(w: Workload | None) -> dict[str, Any]:
    if w is None:
        return {}
    return {"workload": w.label, "workload_kind": w.kind, "unit": w.unit, "namespace": w.namespace,
            "pod": w.pod, "container": w.container, "container_id": w.container_id}  # fmt: skip


def workload_groups(run: RunResult) -> pd.DataFrame:
    """Named workloads (pods, units, containers) across hosts: replicas of one pod (``shop/checkout-*``)
    are one row, with the hosts it faulted on, on how many a culprit ran in it, and its faults summed
    over the fleet (memory.stat: the processes that exited included). Most faults first."""
    rows = []
    for host in run.hosts:
        named = {c.workload.memcg for c in host.verdict.culprits if c.workload} if host.verdict else set()
        for w in host.sample.workloads if host.sample else ():
            if w.shown:
                rows.append([workload_group(w.workload), w.workload.kind, host.host, w.memcg in named,
                             w.minflt_per_s or 0.0, w.majflt_per_s or 0.0])  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=WORKLOAD_GROUP_COLUMNS)
    frame = pd.DataFrame(
        rows, columns=["workload", "kind", "host", "culprit", "minflt_per_s", "majflt_per_s"]
    )
    table = frame.groupby(["workload", "kind"], sort=False).agg(
        hosts=("host", "nunique"),
        host_range=("host", lambda s: fold_hosts(sorted(set(s)))),
        culprit_hosts=("culprit", "sum"),
        minflt_per_s=("minflt_per_s", "sum"),
        majflt_per_s=("majflt_per_s", "sum"),
    )
    table["of_hosts"] = len(run.hosts)
    table = table.reset_index().sort_values(["majflt_per_s", "minflt_per_s"], ascending=False)
    return table[WORKLOAD_GROUP_COLUMNS].reset_index(drop=True)


def findings_frame(run: RunResult) -> pd.DataFrame:
    """One row per finding per host, in the order the checks ran.

    Of a run holding its hosts in brief (``HostResult.brief``) a passed check has no value nor message:
    what the fleet reads of it is its threshold; ``findings.csv`` is written from each host's whole
    result (``finding_rows``).
    """
    return _frame((row for host in run.hosts for row in finding_rows(host)), FINDING_FRAME_COLUMNS)


def measured_frame(run: RunResult) -> pd.DataFrame:
    """``measures`` and ``threshold`` of every finding that names what it measures: what the fleet
    reads of the passed checks (the playbook's thresholds), without a frame row for every check of
    every host (10 a host, ~2 KB of a 10,000-host run's peak)."""
    rows = (
        {"measures": f.measures, "threshold": f.threshold}
        for host in run.hosts
        for f in host.findings
        if f.measures is not None
    )
    return _frame(rows, ["measures", "threshold"])


def failed_frame(run: RunResult) -> pd.DataFrame:
    """The findings frame's rows of the failed checks, in run order (what ``finding_groups`` reads)."""
    rows = (row for host in run.hosts for row in finding_rows(host, status="fail"))
    return _frame(rows, FINDING_FRAME_COLUMNS)


def finding_rows(host: HostResult, status: str | None = None) -> list[dict[str, Any]]:
    """The findings frame's rows of one host (of its findings with ``status``, when given): a row is
    built only for a finding that is kept, most of a healthy fleet's checks pass."""
    findings = [f for f in host.findings if status is None or f.status == status]
    if not findings:
        return []
    head = {
        "host": host.host,
        "group": host_group(host),
        "verdict": host.verdict.code if host.verdict else None,
    }
    return [{**head, **{k: getattr(f, k) for k in FINDING_FRAME_COLUMNS[3:]}} for f in findings]


def _frame(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> pd.DataFrame:
    """The frame of ``rows`` (every one has every column), built a column at a time: a list of row
    dicts for 10,000 hosts' findings is ~60 MB held at once, the columns a tenth of that."""
    cells: dict[str, list[Any]] = {column: [] for column in columns}
    for row in rows:
        for column in columns:
            cells[column].append(row[column])
    return pd.DataFrame(cells, columns=columns)


def playbook_thresholds(findings: pd.DataFrame) -> dict[str, float]:
    """The thresholds the playbook's checks used, by what they measure (a finding's ``measures``,
    ``SCOPE.FIELD``: ``host.minflt_per_s``); the median when hosts were given different ones.

    >>> frame = pd.DataFrame({"measures": ["host.minflt_per_s", None, "host.minflt_per_s"],
    ...                       "threshold": [50000.0, 7.0, 30000.0]})
    >>> playbook_thresholds(frame)
    {'host.minflt_per_s': 40000.0}
    """
    out: dict[str, float] = {}
    measured = findings[findings["measures"].notna()]
    for measures, part in measured.groupby("measures", sort=False):
        values = part["threshold"].dropna()
        if not values.empty:
            out[str(measures)] = float(values.median())
    return out


def rate_floors(findings: pd.DataFrame) -> dict[str, float]:
    """The rate a host needs before it can be an outlier (``FLOOR_RULES`` over the playbook's thresholds);
    a rate no finding measures has floor 0 (any standout counts)."""
    limits = playbook_thresholds(findings)
    return {rate: limits.get(measures, 0.0) * factor for rate, (measures, factor) in FLOOR_RULES.items()}


def robust_z(values: pd.Series) -> pd.Series:
    """Iglewicz-Hoaglin modified z-score of ``log1p(values)``; MeanAD when MAD is 0; 0 when all equal.

    >>> [round(z, 1) for z in robust_z(pd.Series([10.0, 11.0, 12.0, 10.0, 500.0]))]
    [-0.7, 0.0, 0.6, -0.7, 28.9]
    >>> [round(z, 1) for z in robust_z(pd.Series([0.5, 0.5, 0.5, 0.5, 20.0]))]  # MAD 0: MeanAD
    [0.0, 0.0, 0.0, 0.0, 4.0]
    """
    logged = np.log1p(values.clip(lower=0))
    median = logged.median()
    mad = (logged - median).abs().median()
    if mad > 0:
        return 0.6745 * (logged - median) / mad
    mean_ad = (logged - median).abs().mean()
    if mean_ad > 0:
        return (logged - median) / (1.253314 * mean_ad)
    return logged * 0.0


def add_outlier_scores(hosts: pd.DataFrame, floors: dict[str, float]) -> pd.DataFrame:
    """Add ``peers`` (what a host was compared with), ``<rate>_z``, ``<rate>_x_median`` and ``outlier``."""
    hosts = hosts.copy()
    evaluated = hosts[hosts["state"].eq("ok") & hosts["majflt_per_s"].notna() & hosts["minflt_per_s"].notna()]
    sizes = evaluated.groupby("group")["host"].transform("size")
    hosts["peers"] = None
    hosts.loc[evaluated.index, "peers"] = np.where(sizes >= MIN_PEERS, "group " + evaluated["group"], "fleet")
    outlier = pd.Series(False, index=hosts.index)
    for rate, floor in floors.items():
        z = pd.Series(np.nan, index=hosts.index)
        median = pd.Series(np.nan, index=hosts.index)
        for peers, members in evaluated.groupby(hosts.loc[evaluated.index, "peers"]):
            pool = evaluated if peers == "fleet" else members
            z[members.index] = robust_z(pool[rate])[members.index]
            median[members.index] = pool[rate].median()
        hosts[f"{rate}_z"] = z.round(1)
        hosts[f"{rate}_x_median"] = (hosts[rate] / median.where(median > 0)).round(1)
        outlier |= (z > Z_CUTOFF) & (hosts[rate] >= floor)
    hosts["outlier"] = outlier
    return hosts


def outliers(hosts: pd.DataFrame) -> pd.DataFrame:
    """Outlier hosts, the most extreme first (largest z on either rate)."""
    found = hosts[hosts["outlier"]].copy()
    found["z_max"] = found[["majflt_per_s_z", "minflt_per_s_z"]].max(axis=1)
    return found.sort_values(["z_max", "host"], ascending=[False, True])


def rate_percentiles(hosts: pd.DataFrame) -> pd.DataFrame:
    """p50 / p95 / max of the key rates over the hosts that produced them (index: rate name)."""
    data = hosts.loc[hosts["state"].eq("ok"), list(SUMMARY_RATES)]
    table = pd.DataFrame({"p50": data.median(), "p95": data.quantile(0.95), "max": data.max()})
    table["hosts"] = data.notna().sum()
    return table


def culprit_groups(processes: pd.DataFrame, hosts: pd.DataFrame) -> pd.DataFrame:
    """The same command named as culprit on several hosts: one row per (comm, verdict), most hosts first.

    ``of_hosts``/``scope``: how many hosts the comparison is out of -- the hosts of their inventory
    group when all of them are in one group ("12 of 40 web hosts"), else the whole fleet.
    """
    culprits = processes[processes["culprit"]]
    columns = [
        "comm",
        "verdict",
        "hosts",
        "of_hosts",
        "scope",
        "host_range",
        "host_list",
        "rate",
        "median",
        "max",
    ]
    if culprits.empty:
        return pd.DataFrame(columns=columns)
    group_sizes = hosts.groupby("group")["host"].size()
    rows = []
    for (comm, verdict), part in culprits.groupby(["comm", "verdict"], sort=False):
        rate = "minflt_per_s" if verdict == VerdictCode.minor_storm else "majflt_per_s"
        # own + children: a parent named for its short-lived workers' faults
        totals = part[rate] + part[f"children_{rate}"].fillna(0)
        per_host = totals.groupby(part["host"]).max()
        groups = part["group"].unique()
        scope = f"{groups[0]} hosts" if len(groups) == 1 else "hosts"
        of_hosts = int(group_sizes[groups[0]]) if len(groups) == 1 else len(hosts)
        names = sorted(per_host.index)
        rows.append([comm, verdict, len(names), of_hosts, scope, fold_hosts(names), names, rate,
                     per_host.median(), per_host.max()])  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    table["order"] = [verdict_rank(v) for v in table["verdict"]]
    table = table.sort_values(["hosts", "order", "max", "comm"], ascending=[False, True, False, True])
    return table.drop(columns="order").reset_index(drop=True)


def finding_groups(findings: pd.DataFrame) -> pd.DataFrame:
    """Identical failed checks across hosts, once each: (verdict, check, op, threshold) with the host range
    and the spread of the values."""
    failed = findings[findings["status"].eq("fail")]
    keys = ["verdict", "check", "op", "threshold"]
    if failed.empty:
        return pd.DataFrame(columns=[*keys, "hosts", "host_range", "p50", "max", "message"])
    grouped = failed.groupby(keys, dropna=False, sort=False)
    table = grouped.agg(
        hosts=("host", "nunique"),
        host_range=("host", lambda s: fold_hosts(s)),
        p50=("value", "median"),
        max=("value", "max"),
        message=("message", "first"),
    )
    return table.reset_index()


@dataclass(frozen=True, slots=True)
class FleetView:
    """Everything the reports read, computed once per run."""

    hosts: pd.DataFrame
    processes: pd.DataFrame
    measured: pd.DataFrame  # measures, threshold of the findings that name what they measure
    percentiles: pd.DataFrame
    outliers: pd.DataFrame
    culprits: pd.DataFrame
    finding_groups: pd.DataFrame
    floors: dict[str, float]  # the rate a host needs to be an outlier (FLOOR_RULES)
    run: RunResult
    workloads: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WORKLOAD_GROUP_COLUMNS))

    @property
    def findings(self) -> pd.DataFrame:
        """One row per finding per host, built when asked (``render_csvs``): a run never holds it, its
        ``findings.csv`` is written from each host's whole result, a slice of hosts at a time."""
        return findings_frame(self.run)

    def counts(self, column: str) -> dict[str, int]:
        """Hosts per value of ``state`` or ``verdict`` (missing values left out)."""
        return {str(k): int(v) for k, v in self.hosts[column].value_counts(sort=False).items()}

    def thresholds(self) -> dict[str, float]:
        """The host-wide thresholds the checks used, by rate (findings that measure ``host.<rate>``)."""
        limits = playbook_thresholds(self.measured)
        return {k.removeprefix("host."): v for k, v in limits.items() if k.startswith("host.")}


def build_fleet(run: RunResult) -> FleetView:
    """All frames and derived tables of a run."""
    measured = measured_frame(run)
    floors = rate_floors(measured)
    hosts = add_outlier_scores(host_frame(run), floors)
    processes = process_frame(run)
    return FleetView(
        hosts=hosts,
        processes=processes,
        measured=measured,
        percentiles=rate_percentiles(hosts),
        outliers=outliers(hosts),
        culprits=culprit_groups(processes, hosts),
        finding_groups=finding_groups(failed_frame(run)),
        floors=floors,
        run=run,
        workloads=workload_groups(run),
    )
