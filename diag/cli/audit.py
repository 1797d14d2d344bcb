"""The command line of ``pfdiag audit`` and ``pfdiag history``: their arguments and what they print.

In: parsed arguments (``audit`` takes every option of ``run``, copied from its parser, plus its own).
Out: text on stdout/stderr; ``diag.cli`` maps the outcome to exit codes as for ``run``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diag.findings import Severity
from diag.shared.errors import UsageError
from diag.shared.escape import escape_terminal
from diag.shared.limits import (
    MAX_KEEP_RUNS,
    MAX_NOTIFY_TIMEOUT_S,
    check_audit_id,
    check_keep_days,
    check_notify_timeout,
    whole_number,
)
from diag.shared.records import to_data
from diag.shared.units import parse_duration

if TYPE_CHECKING:  # the audit and the history are imported when their subcommand runs
    from diag.audit.service import AuditResult
    from diag.history.diff import Diff, Problem
    from diag.history.rows import AuditDetail, AuditRow, HostPoint

DEFAULT_PLAYBOOK = "audit.yml"


def add_audit_parsers(sub: Any, run: argparse.ArgumentParser) -> None:
    """``audit`` (all of ``run``'s options, PLAYBOOK optional) and ``history`` with its subcommands."""
    audit = sub.add_parser(
        "audit", help="run a scheduled audit (default audit.yml) and record it in the history"
    )
    for action in run._actions:
        if action.dest in ("help", "playbook", "history"):  # the audit's --history also records
            continue
        audit._add_action(action)
    audit.add_argument("playbook", nargs="?", default=DEFAULT_PLAYBOOK, help=f"(default {DEFAULT_PLAYBOOK})")
    audit.add_argument(
        "--history", type=Path, help="SQLite history (default $PFDIAG_HISTORY or reports/history.sqlite)"
    )
    audit.add_argument(
        "--keep-days", type=float, default=14.0, help="prune audits older than this (default 14)"
    )
    audit.add_argument("--keep-runs", type=int, help="keep at most this many audits (default: no limit)")
    audit.add_argument("--notify", metavar="CMD", help="run `sh -c CMD` with the JSON payload on stdin")
    audit.add_argument(
        "--notify-url", metavar="URL", help="HTTP POST the JSON payload here (Alertmanager shape)"
    )
    audit.add_argument(
        "--notify-timeout",
        type=float,
        default=30.0,
        help=f"seconds for each notifier's whole delivery (default 30, at most {MAX_NOTIFY_TIMEOUT_S:g})",
    )
    audit.add_argument(
        "--renotify-after",
        default="4h",
        metavar="DURATION",
        help="tell a persisting problem again after (4h)",
    )
    audit.add_argument("--textfile", type=Path, help="write node_exporter textfile metrics here (.prom)")
    audit.add_argument(
        "--fail-on-new", action="store_true", help="--fail-on counts only problems new since last audit"
    )
    audit.add_argument(
        "--install-timer", metavar="NAME", help="write NAME.service + NAME.timer running this audit"
    )
    audit.add_argument(
        "--every", default="15min", help="period of --install-timer / --print-cron (default 15min)"
    )
    audit.add_argument(
        "--unit-dir", type=Path, help="where --install-timer writes (default: systemd's for this user)"
    )
    audit.add_argument(
        "--print-cron", action="store_true", help="print a crontab line (flock-wrapped) and exit"
    )

    history = sub.add_parser("history", help="list recorded audits; show one, diff two, follow a host")
    _history_options(history, argparse.SUPPRESS)
    hsub = history.add_subparsers(dest="history_command")
    show = hsub.add_parser("show", help="one audit: hosts, verdicts, problems")
    show.add_argument("run_id", type=check_audit_id, metavar="RUN")
    diff = hsub.add_parser("diff", help="problems new/persisting/resolved/unknown between two audits")
    diff.add_argument("a", type=check_audit_id, nargs="?", metavar="A")
    diff.add_argument("b", type=check_audit_id, nargs="?", metavar="B")
    host = hsub.add_parser("host", help="a host's verdicts and rates over time")
    host.add_argument("host")
    host.add_argument(
        "--plot", type=Path, metavar="PATH", help="PNG trend of the fault rates (needs matplotlib)"
    )
    for child in (show, diff, host):
        _history_options(child, argparse.SUPPRESS)
    history.set_defaults(history=None, json=False)


def _history_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--history", type=Path, default=default, help="SQLite history file")
    parser.add_argument("--json", action="store_true", default=default, help="JSON instead of a table")


def check_retention(args: argparse.Namespace) -> None:
    """What an audit keeps and records, checked before it runs (and before a timer is written that
    would fail at every run): ``--keep-runs`` and ``--keep-days`` within ``diag.shared.limits``,
    no ``--replay``, no ``-o`` in a timer."""
    if args.replay is not None:
        # An audit records what the hosts say now, under the scope it was given, and tells the receiver
        # what changed since the last one: a recording is neither now nor of that scope.
        raise UsageError(
            "--replay cannot be audited: an audit records the hosts as they are now, and would file "
            "the recorded run as a fresh audit of another scope (and notify)",
            hint=f"re-evaluate it with `pfdiag run {args.playbook} --replay {args.replay}`",
        )
    if (args.install_timer or args.print_cron) and args.output_dir is not None:
        raise UsageError(
            "-o cannot be scheduled: a run folder belongs to one audit, so every audit after the first "
            "would be refused",
            hint="drop -o: each audit writes its own reports/<time>-<playbook>/",
        )
    if args.keep_runs is not None:
        whole_number(args.keep_runs, "--keep-runs", 1, MAX_KEEP_RUNS)
    if args.keep_days is not None:
        check_keep_days(args.keep_days)


def audit_request(args: argparse.Namespace, run_request: Any) -> Any:
    from diag.audit.service import AuditRequest

    check_retention(args)
    if args.textfile is not None and importlib.util.find_spec("prometheus_client") is None:
        raise UsageError("--textfile needs prometheus_client", hint="pip install 'pfdiag[prometheus]'")
    from diag.notify.delivery import notify_url

    return AuditRequest(
        run=run_request,
        history=args.history,
        keep_days=args.keep_days,
        keep_runs=args.keep_runs,
        notify_command=args.notify,
        notify_url=notify_url(args.notify_url),
        renotify_after_s=parse_duration(args.renotify_after, "--renotify-after"),
        notify_timeout_s=check_notify_timeout(args.notify_timeout),
        textfile=args.textfile,
    )


def schedule(args: argparse.Namespace, argv: list[str]) -> None:
    """``--install-timer`` / ``--print-cron``: write or print, run nothing."""
    from diag.audit import timers
    from diag.audit.service import history_path
    from diag.notify.delivery import notify_url

    check_retention(args)
    # what the scheduled audit would refuse at every run is refused now, before a unit or line is made
    notify_url(args.notify_url)
    check_notify_timeout(args.notify_timeout)
    period = parse_duration(args.every, "--every")
    command = timers.audit_command(argv)
    cwd = Path.cwd()
    if args.print_cron:
        timers.check_no_secrets(args.extra_vars, "--print-cron", "the crontab line")
        timers.check_no_notifier_secrets(argv, "--print-cron", "the crontab line")
        lock = history_path(args.history, cwd).with_suffix(".lock")
        print(timers.cron_line(command, period, cwd, lock))
        return
    timers.check_no_secrets(args.extra_vars, "--install-timer", "the unit file")
    timers.check_no_notifier_secrets(argv, "--install-timer", "the unit file")
    units = timers.timer_units(args.install_timer, command, period, cwd)
    # absolute: the files are named in `systemctl link`, which refuses a relative path
    unit_dir = Path(os.path.abspath(args.unit_dir)) if args.unit_dir else timers.default_unit_dir()
    for path in timers.install_timer(units, unit_dir):
        print(f"wrote {path}")
    print("enable it with:\n" + timers.enable_hint(units, unit_dir))


def print_audit(result: AuditResult) -> None:
    from diag.report.since import terminal_counts

    print(terminal_counts(result.diff, result.baseline))
    if result.notify_status != "off":
        print(
            f"notification: {result.notify_status}"
            + (f" ({escape_terminal(result.notify_error)})" if result.notify_error else "")
        )
    if result.textfile is not None:
        print(f"textfile: {result.textfile}")
    if result.pruned:
        print(f"pruned {len(result.pruned)} old audit(s): {', '.join(map(str, result.pruned))}")
    print(f"history: {result.history} (audit #{result.run_id})")
    for warning in result.warnings:
        print(f"[WARNING]: {escape_terminal(warning)}", file=sys.stderr)


def new_at_or_above(result: AuditResult, fail_on: str | None) -> bool:
    """``--fail-on-new``: a problem new since the last audit at ``--fail-on`` (default warning) or worse."""
    limit = Severity.parse(fail_on or "warning")
    return any(Severity.read(p.severity) >= limit for p in result.diff.new)


# -- pfdiag history ---------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    from diag.audit.service import history_path
    from diag.history.store import History, HistoryError

    path = history_path(args.history, Path.cwd())
    if not path.exists():
        raise HistoryError(
            f"no audit history at {str(path)!r}", hint="run `pfdiag audit` first, or give --history"
        )
    with History(path) as history:
        command = args.history_command
        if command == "show":
            data: Any = history.run(args.run_id)
            text = _show_text(data)
        elif command == "diff":
            a, b = args.a, args.b
            if a is None:
                a, b = history.latest_pair()
            elif b is None:
                a, b = history.before(a), a
            diff = history.diff_runs(a, b)
            data = {"a": a, "b": b, **to_data(diff)}
            text = _diff_text(a, b, diff)
        elif command == "host":
            data = history.host_series(args.host)
            if not data:
                raise HistoryError(f"host {args.host!r} is in no recorded audit")
            if args.plot is not None:
                _plot_host(args.host, data, args.plot, history)
            text = _host_text(data)
        else:
            data = history.runs()
            text = _runs_text(data)
    if args.json:
        print(json.dumps(to_data(data), indent=2, default=str))
    else:
        print(text)
    if command == "host" and args.plot is not None:
        print(f"plot: {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    """A terminal table of recorded values: host names, process names, culprits shown escaped."""
    from tabulate import tabulate

    shown = [
        [c if c is None or isinstance(c, int | float) else escape_terminal(c) for c in row] for row in rows
    ]
    return tabulate(shown, headers=headers, tablefmt="simple")


def _scope_label(run: AuditRow | AuditDetail) -> str:
    playbook = Path(run.playbook or "?").name
    inventory = ",".join(run.inventory) or "localhost"
    limit = f" -l {run.host_limit}" if run.host_limit else ""
    return f"{playbook} -i {inventory}{limit}"


def _runs_text(runs: list[AuditRow]) -> str:
    rows = []
    for r in runs:
        states = " ".join(f"{k}={v}" for k, v in r.states.items())
        done = "complete" if r.complete else ("interrupted" if r.interrupted else "INCOMPLETE")
        counts = "" if r.new is None else f"{r.new}/{r.persisting}/{r.resolved}/{r.unknown}"
        rows.append([r.id, r.started, _scope_label(r), r.hosts or "", states, counts, done])
    headers = ["id", "started", "scope", "hosts", "states", "new/pers/res/unk", ""]
    return _table(rows, headers) if rows else "no audits recorded"


def _show_text(data: AuditDetail) -> str:
    done = "complete" if data.complete else "incomplete"
    lines = [
        f"audit #{data.id} {data.started} .. {data.finished or '?'} ({done}) "
        + escape_terminal(_scope_label(data))
    ]
    lines.append(f"run folder: {escape_terminal(data.run_dir)}; notification: {data.notify_status or '-'}")
    hosts = [
        [h.host, h.state, h.verdict, h.culprit or "", h.majflt_per_s, h.minflt_per_s]
        for h in data.hosts_detail
    ]
    lines.append(_table(hosts, ["host", "state", "verdict", "culprit", "major/s", "minor/s"]))
    problems = [[p.status, p.host, p.code, p.comm, p.severity, p.first_seen] for p in data.problems]
    if problems:
        lines.append("")
        lines.append(_table(problems, ["status", "host", "problem", "process", "severity", "first seen"]))
    return "\n".join(lines)


def _diff_text(a: int, b: int, diff: Diff) -> str:
    lines = [f"audit #{b} against #{a}:"]
    for key in ("new", "persisting", "resolved", "unknown"):
        problems: tuple[Problem, ...] = getattr(diff, key)
        lines.append(f"  {key}: {len(problems)}")
        lines.extend(
            escape_terminal(f"    {p.host} {p.code} {p.comm} ({p.severity}): {p.summary[:100]}")
            for p in problems
        )
    return "\n".join(lines)


def _host_text(rows: list[HostPoint]) -> str:
    table = [
        [r.run_id, r.started, r.state, r.verdict, r.culprit or "", r.majflt_per_s, r.minflt_per_s]
        for r in rows
    ]
    return _table(table, ["audit", "time", "state", "verdict", "culprit", "major/s", "minor/s"])


def _thresholds(playbook: str | None) -> dict[str, float]:
    """The host-wide fault thresholds of the audit's playbook (its play vars), for the plot."""
    found = {"host_majflt_per_s": 500.0, "host_minflt_per_s": 50000.0}
    if not playbook or not os.path.exists(playbook):
        return found
    from diag.playbook.validate import load_playbook

    try:
        plays = load_playbook(Path(playbook)).plays
    except Exception:  # a playbook edited since: the defaults will do for a picture
        return found
    for play in plays:
        for key in found:
            value = play.vars.get(key)
            if isinstance(value, int | float):
                found[key] = float(value)
    return found


def _plot_host(host: str, rows: list[HostPoint], path: Path, history: Any) -> None:
    from diag.report.history_plot import plot_host_rates

    run = history.run(rows[-1].run_id)
    plot_host_rates(host, rows, _thresholds(run.playbook), path)
