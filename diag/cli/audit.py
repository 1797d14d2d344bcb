"""The command line of ``pfdiag audit`` and ``pfdiag history``: their arguments and their requests.

In: parsed arguments (``audit`` takes every option of ``run``, copied from its parser, plus its own).
Out: an ``AuditRequest`` / ``ScheduleRequest`` for ``diag.cli.main``, and ``pfdiag history``'s one call
(``diag.audit.history_query``) with its text printed; ``diag.cli`` maps outcomes to exit codes.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diag.findings import Severity
from diag.shared.errors import UsageError
from diag.shared.limits import (
    MAX_KEEP_RUNS,
    MAX_NOTIFY_TIMEOUT_S,
    check_audit_id,
    check_keep_days,
    check_notify_timeout,
    whole_number,
)
from diag.shared.units import parse_duration

if TYPE_CHECKING:  # the audit and the history are imported when their subcommand runs
    from diag.audit.service import AuditResult

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


def schedule_request(args: argparse.Namespace, argv: list[str]) -> Any:
    """``--install-timer`` / ``--print-cron``: what to schedule, checked as the audit would check it."""
    from diag.audit.schedule import ScheduleRequest

    check_retention(args)
    return ScheduleRequest(
        argv=tuple(argv),
        every=args.every,
        cwd=Path.cwd(),
        extra_vars=tuple(args.extra_vars),
        unit_name=args.install_timer,
        print_cron=args.print_cron,
        unit_dir=args.unit_dir,
        history=args.history,
        notify_url=args.notify_url,
        notify_timeout_s=args.notify_timeout,
    )


def new_at_or_above(result: AuditResult, fail_on: str | None) -> bool:
    """``--fail-on-new``: a problem new since the last audit at ``--fail-on`` (default warning) or worse."""
    limit = Severity.parse(fail_on or "warning")
    return any(Severity.read(p.severity) >= limit for p in result.diff.new)


# -- pfdiag history ---------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace, argv: list[str]) -> int:
    from diag.audit.history_query import HistoryQuery, query_history

    command = args.history_command
    answer = query_history(
        HistoryQuery(
            command=command,
            cwd=Path.cwd(),
            history=args.history,
            as_json=args.json,
            run_id=getattr(args, "run_id", None),
            a=getattr(args, "a", None),
            b=getattr(args, "b", None),
            host=getattr(args, "host", None),
            plot=getattr(args, "plot", None),
        )
    )
    print(answer.text)
    if answer.plot is not None:
        print(f"plot: {answer.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0
