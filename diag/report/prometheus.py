"""An audit as node_exporter textfile-collector metrics (``--textfile PATH``).

In: the audit's ``RunResult``, its diff counts and the last complete audit's finish time. Out: a
``.prom`` file written by ``diag.shared.files`` (temp file + rename, so node_exporter never reads half a
file; a device or FIFO is written in place and a symlink's target is written, never replaced), mode
0644: node_exporter often runs as another user, and the file holds host names and rates, no command
lines. Names are prefixed ``pfdiag_``, rates per second, times in seconds. Series: 6 per host (state,
verdict, severity, three fault rates), at most 2 x ``WORKLOADS_PER_HOST`` per host (the busiest named
workloads' fault rates, labelled ``unit``, ``namespace``, ``pod``, ``container``), plus at most 9
host-state counts, 4 problem counts and 3 audit gauges; the README states the cardinality.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from diag.findings import HOST_STATES, HostResult, RunResult, Severity
from diag.shared.files import write_text
from diag.shared.units import stamp_seconds

TEXTFILE_MODE = 0o644  # read by node_exporter, often another user than the audit's

RATE_METRICS = (
    ("major_faults_per_second", "majflt_per_s", "Major page faults per second over the sampling interval"),
    ("minor_faults_per_second", "minflt_per_s", "Minor page faults per second over the sampling interval"),
    ("swap_ins_per_second", "swapin_per_s", "Pages swapped in (pswpin + zswpin) per second"),
)


# Named workloads (pods, units, containers) per host whose fault rates are exported: a node runs ~100
# pods, and a series per pod and audit would churn the TSDB; the busiest few are the story.
WORKLOADS_PER_HOST = 3
WORKLOAD_LABELS = ["host", "unit", "namespace", "pod", "container"]


def workload_series(host: HostResult) -> list[tuple[list[str], float, float]]:
    """(label values, minor/s, major/s) of the host's busiest named workloads, at most WORKLOADS_PER_HOST."""
    rows = host.sample.workloads if host.sample is not None else ()
    named = [w for w in rows if w.shown]
    out = []
    for w in named[:WORKLOADS_PER_HOST]:
        n = w.workload
        # a Docker container's name goes in ``container``; a unit's in ``unit``
        values = [
            host.host,
            n.unit or "",
            n.namespace or "",
            n.pod or "",
            n.container or n.container_id or "",
        ]
        out.append((values, w.minflt_per_s or 0.0, w.majflt_per_s or 0.0))
    return out


def write_textfile(
    path: Path,
    run: RunResult,
    counts: Mapping[str, int],
    *,
    duration_s: float | None,
    last_success: str | None,
) -> Path:
    """Write the metrics of one audit to ``path`` (atomically); ``ReportError`` when it cannot."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    state = Gauge(
        "pfdiag_host_state", "1 for the host's state in the last audit", ["host", "state"], registry=registry
    )
    verdict = Gauge(
        "pfdiag_host_verdict", "1 for the host's verdict code", ["host", "verdict"], registry=registry
    )
    severity = Gauge(
        "pfdiag_host_severity",
        "Verdict severity: 0 ok, 1 info, 2 warning, 3 critical",
        ["host"],
        registry=registry,
    )
    rates = {
        key: Gauge(f"pfdiag_host_{name}", text, ["host"], registry=registry)
        for name, key, text in RATE_METRICS
    }
    workload_rates = [
        Gauge(f"pfdiag_workload_{kind}_faults_per_second", f"{kind.capitalize()} page faults per second of a "
              "workload's memory cgroup (its exited processes included)", WORKLOAD_LABELS, registry=registry)
        for kind in ("minor", "major")
    ]  # fmt: skip
    hosts = Gauge("pfdiag_audit_hosts", "Hosts of the last audit per state", ["state"], registry=registry)
    problems = Gauge(
        "pfdiag_audit_problems",
        "Problems of the last audit against the previous one",
        ["status"],
        registry=registry,
    )
    complete = Gauge("pfdiag_audit_complete", "1 when the last audit ran to completion", registry=registry)
    duration = Gauge("pfdiag_audit_duration_seconds", "Wall time of the last audit", registry=registry)
    success = Gauge(
        "pfdiag_audit_last_success_timestamp_seconds",
        "When the last complete audit finished",
        registry=registry,
    )
    per_state = dict.fromkeys(HOST_STATES, 0)
    for host in run.hosts:
        per_state[host.status] = per_state.get(host.status, 0) + 1
        state.labels(host.host, host.status).set(1)
        if host.verdict is not None:
            verdict.labels(host.host, host.verdict.code).set(1)
            severity.labels(host.host).set(Severity.read(host.verdict.severity).rank)
        measured = host.sample.rates if host.sample is not None else None
        for key, gauge in rates.items():
            value = getattr(measured, key, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                gauge.labels(host.host).set(float(value))
        for labels, minor, major in workload_series(host):
            workload_rates[0].labels(*labels).set(minor)
            workload_rates[1].labels(*labels).set(major)
    for name, number in per_state.items():
        hosts.labels(name).set(number)
    for name in ("new", "persisting", "resolved", "unknown"):
        problems.labels(name).set(counts.get(name, 0))
    complete.set(0 if run.interrupted else 1)
    if duration_s is not None:
        duration.set(duration_s)
    stamp = stamp_seconds(last_success)
    if stamp is not None:
        success.set(stamp)
    write_text(path, generate_latest(registry), what="the textfile", mode=TEXTFILE_MODE)
    return path
