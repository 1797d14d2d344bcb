"""The command line: parse arguments, call ``diag.run.service``, print, and map outcomes to exit codes.

In: ``argv`` (``pfdiag run|report|inventory ...``). Out: text on stdout/stderr and an exit code:
0 ok; 1 other error (a file named on the command line is missing, the Dask scheduler unreachable...);
2 a host failed; 4 a host unreachable, or a playbook/inventory/YAML/expression error; 5 bad options;
10 ``--fail-on`` matched; 99 interrupted (or the Dask cluster lost); 250 internal error.
A ``DiagError`` is one message, never a traceback. Text that may come from a host (names, process
names, stderr) is printed escaped (``diag.shared.escape``): it cannot drive the terminal or forge a line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import os
import sys
import threading
import traceback
from enum import IntEnum
from pathlib import Path
from typing import Any, NoReturn

import diag
from diag.cli.audit import add_audit_parsers, cmd_history
from diag.findings import UNREACHABLE_STATES, HostState, RunResult, Severity
from diag.history.baseline import DEFAULT_DAYS as DEFAULT_BASELINE_DAYS
from diag.playbook import DEFAULT_FORKS  # not .engine: `inventory` and `report` need no Jinja
from diag.shared.errors import (
    DiagError,
    InventoryError,
    ParseError,
    PlaybookError,
    ReportError,
    TransportError,
    UsageError,
)
from diag.shared.escape import escape_lines, escape_terminal
from diag.shared.limits import check_scheduler, check_workers, finite_positive
from diag.shared.secrets import Redactor, mask_assignments, secret_values
from diag.shared.units import parse_duration
from diag.transport import ConnectOptions

REPORT_TO = "please report it, with the command line and `pfdiag --version`, to the pfdiag maintainers"
FAILED_STATES = ("failed", "timeout")


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    HOST_FAILED = 2
    UNREACHABLE_OR_PARSE = 4
    BAD_OPTIONS = 5
    FAIL_ON = 10
    INTERRUPTED = 99
    INTERNAL = 250


def error_exit_code(exc: DiagError) -> ExitCode:
    """The exit code of an error that stopped the command."""
    if isinstance(exc, UsageError):
        return ExitCode.BAD_OPTIONS
    if isinstance(exc, PlaybookError | InventoryError | ParseError | TransportError):
        return ExitCode.UNREACHABLE_OR_PARSE
    return ExitCode.ERROR


def run_exit_code(run: RunResult, fail_on: str | None) -> ExitCode:
    """Exit code of a finished run: interrupted > unreachable (4) > failed (2) > ``--fail-on`` (10) > 0."""
    if run.interrupted:
        return ExitCode.INTERRUPTED
    states = {HostState.read(host.status) for host in run.hosts}  # unknown (a newer run's) -> failed
    if states & set(UNREACHABLE_STATES):
        return ExitCode.UNREACHABLE_OR_PARSE
    if states & set(FAILED_STATES):
        return ExitCode.HOST_FAILED
    if fail_on is not None:
        limit = Severity.parse(fail_on)
        severities = [h.verdict.severity for h in run.hosts if h.verdict]
        if any(Severity.read(s) >= limit for s in severities):
            return ExitCode.FAIL_ON
    return ExitCode.OK


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (exit 5) instead of exiting with 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # no prefix matching: `--extra api_token=...` must not silently mean --extra-vars (and then
        # escape the masking of -e values in run.json)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")


def _out(text: object = "", *, end: str = "\n") -> None:
    """Print to stdout. A reader that went away (``| head -1``) ends the output quietly, as for other
    CLIs; a stdout that cannot be written (``> /dev/full``) is an error, not a traceback."""
    try:
        sys.stdout.write(f"{text}{end}")
        sys.stdout.flush()
    except OSError as exc:
        from diag.shared.files import silence

        silence(sys.stdout)
        if not isinstance(exc, BrokenPipeError):
            raise DiagError(f"cannot write to standard output: {exc.strerror}") from None


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(t.strip() for v in values or [] for t in v.split(",") if t.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pfdiag", description="Agentless, Ansible-style page-fault triage.")
    parser.add_argument("--version", action="version", version=f"pfdiag {diag.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a playbook (a path, or a shipped name such as triage)")
    run.add_argument("playbook")
    run.add_argument("-i", "--inventory", action="append", default=[], help="inventory (repeatable)")
    run.add_argument("-l", "--limit", help="host pattern, e.g. 'web:&prod:!web03'")
    run.add_argument("-e", "--extra-vars", action="append", default=[], help="k=v, JSON/YAML, or @file")
    run.add_argument(
        "-f", "--forks", type=int, default=DEFAULT_FORKS, help=f"hosts in parallel (default {DEFAULT_FORKS})"
    )
    run.add_argument("-t", "--tags", action="append", help="only tasks with these tags")
    run.add_argument("--skip-tags", action="append", help="skip tasks with these tags")
    run.add_argument("-v", "--verbose", action="count", default=0, help="-v task lines, -vvv tracebacks")
    run.add_argument("--list-hosts", action="store_true", help="print the hosts each play would run on")
    run.add_argument("--list-tasks", action="store_true", help="print the tasks that would run")
    run.add_argument("--syntax-check", action="store_true", help="validate the playbook, run nothing")
    run.add_argument("-o", "--output-dir", type=Path, help="run folder (default reports/<time>-<playbook>/)")
    run.add_argument("--json", type=Path, help="also write the whole result as JSON here")
    run.add_argument("--csv", type=Path, metavar="DIR", help="also write hosts/processes/findings.csv here")
    run.add_argument("--plots", action="store_true", help="add PNG charts to the report (needs matplotlib)")
    run.add_argument("--fail-on", choices=[s.value for s in Severity], help="exit 10 at a verdict this bad")
    _add_connection_options(run)
    run.add_argument("--command-timeout", type=float, help="per-command timeout, s (default: the task's)")
    run.add_argument("--host-deadline", type=float, help="time budget per host, s (default 60 + interval)")
    run.add_argument("-b", "--become", action="store_true", help="run probes with sudo -n")
    run.add_argument(
        "--replay",
        type=Path,
        metavar="RUN_DIR",
        help="answer from a recorded run folder instead of the hosts (contacts nothing)",
    )
    _add_baseline_options(run)
    shard = run.add_mutually_exclusive_group()
    shard.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="shard the run over this Dask cluster")
    shard.add_argument("--workers", type=int, metavar="N", help="shard the run over N local worker processes")

    report = sub.add_parser("report", help="render a saved run folder again")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--format", choices=["md", "json", "csv"], default="md")
    report.add_argument(
        "-o", "--output", type=Path, help="write here instead of stdout (csv: a folder for all three files)"
    )

    _add_watch(sub)

    inv = sub.add_parser("inventory", help="show an inventory as ansible-inventory does")
    inv.add_argument("-i", "--inventory", action="append", required=True)
    view = inv.add_mutually_exclusive_group()
    view.add_argument("--list", action="store_true")
    view.add_argument("--graph", action="store_true")
    view.add_argument("--host")
    add_audit_parsers(sub, run)
    return parser


def _add_watch(sub: Any) -> None:
    watch = sub.add_parser("watch", help="follow fault rates on every host and alert on spikes")
    watch.add_argument("-i", "--inventory", action="append", default=[], help="inventory (repeatable)")
    watch.add_argument("-l", "--limit", help="host pattern, e.g. 'web:&prod:!web03'")
    watch.add_argument("-e", "--extra-vars", action="append", default=[], help="threshold overrides, k=v")
    watch.add_argument("--every", type=float, required=True, metavar="SECONDS", help="tick period")
    end = watch.add_mutually_exclusive_group()
    end.add_argument("--count", type=int, metavar="N", help="stop after N ticks")
    end.add_argument("--duration", metavar="DUR", help="stop after DUR (90, 90s, 5m, 1h)")
    watch.add_argument("--pid", type=int, action="append", default=[], help="follow this pid (repeatable)")
    watch.add_argument("--match", action="append", default=[], metavar="REGEX", help="only comms matching")
    watch.add_argument(
        "--for", dest="for_ticks", type=int, default=1, metavar="K", help="alert after K ticks"
    )
    watch.add_argument("--cooldown", default="5m", metavar="DUR", help="no repeat alert within DUR (5m)")
    watch.add_argument("--notify", metavar="CMD", help="run CMD with each alert as JSON on stdin")
    watch.add_argument("--notify-url", metavar="URL", help="POST each alert as JSON to URL")
    watch.add_argument("--jsonl", metavar="PATH", help="stream events as JSON lines to PATH (- for stdout)")
    watch.add_argument("-o", "--output-dir", type=Path, help="run folder (default reports/<time>-watch/)")
    _add_baseline_options(watch)
    _add_connection_options(watch)


def _add_baseline_options(parser: argparse.ArgumentParser) -> None:
    """``run`` and ``watch`` compare each host with its own audits (``audit`` takes these from ``run``)."""
    parser.add_argument(
        "--history",
        type=Path,
        help="audits to compare with (default $PFDIAG_HISTORY or reports/history.sqlite)",
    )
    parser.add_argument(
        "--baseline-days",
        type=float,
        default=DEFAULT_BASELINE_DAYS,
        metavar="DAYS",
        help=f"compare with the audits of the last DAYS days (default {DEFAULT_BASELINE_DAYS:g})",
    )


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    """The SSH options ``run``, ``audit`` and ``watch`` share (``_connect_options`` reads them back)."""
    parser.add_argument("-u", "--user", help="SSH user")
    parser.add_argument("--private-key", help="SSH private key file")
    parser.add_argument(
        "-T", "--timeout", type=float, default=10.0, help="SSH connect + banner timeout, s (10)"
    )
    parser.add_argument("--host-key-policy", choices=["strict", "accept-new"], default="strict")
    parser.add_argument("--ssh-config", help="ssh_config file to read instead of ~/.ssh/config (ssh -F)")
    parser.add_argument(
        "--known-hosts", action="append", default=[], help="extra known_hosts file (repeatable)"
    )


def _connect_options(args: argparse.Namespace) -> ConnectOptions:
    """``ConnectOptions`` from the shared SSH options (and ``--command-timeout``/``-b`` where the
    subcommand has them)."""
    _positive(args.timeout, "-T/--timeout")
    command_timeout = getattr(args, "command_timeout", None)
    _positive(command_timeout, "--command-timeout")
    return ConnectOptions(
        user=args.user,
        private_key=args.private_key,
        # like OpenSSH's ConnectTimeout: a host that accepts TCP but never sends its banner counts too
        connect_timeout_s=args.timeout,
        banner_timeout_s=args.timeout,
        command_timeout_s=command_timeout,
        host_key_policy=args.host_key_policy,
        ssh_config=args.ssh_config,
        known_hosts=tuple(args.known_hosts),
        become=getattr(args, "become", False),
    )


def cmd_watch(args: argparse.Namespace, argv: list[str]) -> int:
    from diag.notify.delivery import notify_url
    from diag.watch.service import WatchRequest, watch

    _positive(args.count, "--count")
    _positive(args.baseline_days, "--baseline-days")
    connect = _connect_options(args)
    request = WatchRequest(
        every_s=args.every,
        count=args.count,
        duration_s=parse_duration(args.duration, "--duration") if args.duration else None,
        inventories=tuple(args.inventory),
        limit=args.limit,
        extra_vars=tuple(args.extra_vars),
        pids=tuple(args.pid),
        matches=tuple(args.match),
        for_ticks=args.for_ticks,
        cooldown_s=parse_duration(args.cooldown, "--cooldown"),
        notify=args.notify,
        notify_url=notify_url(args.notify_url),
        jsonl=args.jsonl,
        out_dir=args.output_dir,
        connect=connect,
        argv=tuple(argv),
        history=args.history,
        baseline_days=args.baseline_days,
        out=sys.stdout,
        live=sys.stdout.isatty() and args.jsonl != "-",
    )
    outcome = watch(request)
    for warning in outcome.warnings:
        print(f"[WARNING]: {escape_terminal(warning)}", file=sys.stderr)
    if outcome.error is not None:
        raise outcome.error
    never = [escape_terminal(name) for name, view in outcome.summary.hosts.items() if view.logins == 0]
    if outcome.interrupted:
        print(f"interrupted: every event is in {outcome.run_dir}/events.jsonl", file=sys.stderr)
        return ExitCode.INTERRUPTED
    print(f"watch: {outcome.run_dir}", file=sys.stderr)
    if never:
        print(f"never reached: {', '.join(never)}", file=sys.stderr)
        return ExitCode.UNREACHABLE_OR_PARSE
    return ExitCode.OK


def _positive(value: float | int | None, flag: str) -> None:
    if value is not None:
        finite_positive(value, flag)  # nan and inf too: they would mean "never" or "at once"


def _request(args: argparse.Namespace, argv: list[str]) -> Any:
    from diag.run.service import RunRequest

    _positive(args.forks, "-f/--forks")
    connect = _connect_options(args)
    _positive(args.host_deadline, "--host-deadline")
    if args.workers is not None:
        check_workers(args.workers)
    _positive(args.baseline_days, "--baseline-days")
    if args.scheduler is not None:
        check_scheduler(args.scheduler)

    def emit(line: str) -> None:  # -v task lines and warnings: one line each, host text escaped
        if line.startswith("[WARNING]"):
            print(escape_terminal(line), file=sys.stderr, flush=True)
        else:
            _out(escape_terminal(line))

    return RunRequest(
        playbook=args.playbook,
        inventories=tuple(args.inventory),
        limit=args.limit,
        extra_vars=tuple(args.extra_vars),
        forks=args.forks,
        tags=_split(args.tags),
        skip_tags=_split(args.skip_tags),
        connect=connect,
        host_deadline_s=args.host_deadline,
        out_dir=args.output_dir,
        json_path=args.json,
        csv_dir=args.csv,
        plots=args.plots,
        verbosity=args.verbose,
        fail_on=args.fail_on,
        argv=tuple(argv),
        emit=emit,
        progress=sys.stderr,
        replay=args.replay,
        scheduler=args.scheduler,
        workers=args.workers,
        history=args.history,
        baseline_days=args.baseline_days,
    )


def _play_header(index: int, play: Any) -> str:
    return f"  play #{index} ({play.hosts}): {play.name}"


def cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from diag.run import service as api

    request = _request(args, argv)
    if args.plots and importlib.util.find_spec("matplotlib") is None:
        # say so before sampling a fleet, not after
        raise UsageError("--plots needs matplotlib", hint="pip install 'pfdiag[plots]'")
    if args.syntax_check:
        playbook = api.check_syntax(request)
        _out(f"playbook: {playbook.path}")
        return ExitCode.OK
    if args.list_tasks:
        _out(f"playbook: {request.playbook}\n")
        for i, (play, tasks) in enumerate(api.list_tasks(request), 1):
            _out(_play_header(i, play) + "\n    tasks:")
            for task in tasks:
                _out(f"      {task.name}\tTAGS: [{', '.join(task.tags)}]")
        return ExitCode.OK
    if args.list_hosts:
        _out(f"playbook: {request.playbook}\n")
        for i, (play, hosts) in enumerate(api.list_hosts(request), 1):
            _out(_play_header(i, play) + f"\n    pattern: {play.hosts!r}\n    hosts ({len(hosts)}):")
            for name in hosts:
                _out(f"      {escape_terminal(name)}")
        return ExitCode.OK
    from diag.report import render_terminal

    run = api.run_playbook(request)
    _out(render_terminal(run))
    if run.interrupted:
        print("interrupted: finished hosts are saved in the run folder", file=sys.stderr)
    return run_exit_code(run, args.fail_on)


def cmd_audit(args: argparse.Namespace, argv: list[str]) -> int:
    """``pfdiag audit``: ``run`` plus the history, diff, notifications, textfile; or write a timer."""
    from diag.audit import service as audit
    from diag.cli import audit as cli_audit

    if args.syntax_check or args.list_tasks or args.list_hosts:
        return cmd_run(args, argv)
    if args.install_timer is not None or args.print_cron:
        cli_audit.schedule(args, argv)
        return ExitCode.OK
    request = cli_audit.audit_request(args, _request(args, argv))
    from diag.report import render_terminal

    result = audit.run_audit(request)
    print(render_terminal(result.run))
    cli_audit.print_audit(result)
    if result.run.interrupted:
        print("interrupted: finished hosts are saved; the audit is recorded as incomplete", file=sys.stderr)
    code = run_exit_code(result.run, None if args.fail_on_new else args.fail_on)
    if code == ExitCode.OK and args.fail_on_new and cli_audit.new_at_or_above(result, args.fail_on):
        return ExitCode.FAIL_ON
    return code


def cmd_report(args: argparse.Namespace) -> int:
    from diag.run import service as api
    from diag.watch.saved import is_watch_run

    if is_watch_run(args.run_dir):
        return _report_watch(args)

    run, problems = api.read_run(args.run_dir)
    for problem in problems:  # what is there is rendered all the same
        print(f"[WARNING]: {escape_terminal(problem)}", file=sys.stderr)
    # no hosts.jsonl at all: the report would show nothing but the plan, and the exit code says so
    done = ExitCode.OK if (args.run_dir / "hosts.jsonl").exists() else ExitCode.ERROR
    if args.format == "md":
        from diag.report.markdown import render_markdown

        text = render_markdown(run)
    elif args.format == "json":
        from diag.report.files import run_to_json
        from diag.shared.files import json_text

        text = json_text(run_to_json(run), indent=2) + "\n"
    elif args.output is not None:
        from diag.report import write_csv

        try:
            for path in write_csv(run, args.output):
                _out(path)
        except OSError as exc:
            raise ReportError(f"cannot write CSV files into {str(args.output)!r}: {exc}") from None
        return done
    else:
        from diag.report import render_csv

        text = render_csv(run)
        if sys.stdout.isatty():  # exact in a file or a pipe; on a screen host text must not drive it
            text = escape_lines(text)
    if args.output is None:
        _out(text, end="")
    else:
        from diag.shared.files import write_text

        write_text(args.output, text, what="report")
    return done


def _report_watch(args: argparse.Namespace) -> int:
    """A saved watch renders as its timeline (markdown) or its events (json)."""
    from diag.report.watch_view import render_timeline
    from diag.runs.events import event_data
    from diag.watch.saved import load_watch

    if args.format == "csv":
        raise UsageError("a watch has no CSV form", hint="use --format md or json")
    saved = load_watch(args.run_dir)
    for problem in saved.problems:  # what is there is rendered all the same
        print(f"[WARNING]: {problem}", file=sys.stderr)
    meta, events = saved.meta, saved.events
    if args.format == "json":
        text = (
            json.dumps({"run": meta, "events": [event_data(e) for e in events]}, indent=2, default=str) + "\n"
        )
    else:
        text = render_timeline(meta, events)
    if args.output is None:
        sys.stdout.write(text)
    else:
        from diag.shared.files import write_text

        write_text(args.output, text, what="report")
    return ExitCode.OK


def cmd_inventory(args: argparse.Namespace) -> int:
    from diag.inventory import load_inventory

    inv = load_inventory(list(args.inventory), cwd=Path.cwd())
    if args.graph:
        _out(escape_lines(inv.graph()))
    elif args.host:
        if args.host not in inv.hosts:
            raise InventoryError(f"host {args.host!r} is not in the inventory")
        _out(json.dumps(inv.host_vars_json(args.host), indent=4, sort_keys=True, default=str))
    else:
        _out(json.dumps(inv.to_list_json(), indent=4, sort_keys=True, default=str))
    return ExitCode.OK


def _argv_redactor(argv: list[str]) -> Redactor:
    """Masks the values of secret ``-e`` variables (those that parse) in an error message."""
    from diag.playbook.language.variables import parse_extra_var

    values: set[str] = set()
    for flag, value in itertools.pairwise(argv):
        if flag in ("-e", "--extra-vars"):
            with contextlib.suppress(DiagError):
                values |= secret_values(parse_extra_var(value, cwd=Path.cwd()))
    return Redactor(values)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pfdiag`` and ``python -m diag``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbosity = 0
    try:
        args = build_parser().parse_args(argv)
        verbosity = getattr(args, "verbose", 0)
        if args.command == "run":
            return int(cmd_run(args, argv))
        if args.command == "report":
            return int(cmd_report(args))
        if args.command == "audit":
            return int(cmd_audit(args, argv))
        if args.command == "history":
            return int(cmd_history(args))
        if args.command == "watch":
            return int(cmd_watch(args, argv))
        return int(cmd_inventory(args))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else ExitCode.OK
    except DiagError as exc:
        # each line escaped, the breaks kept: a message's hint, or one line per problem in a playbook
        text = escape_lines(mask_assignments(_argv_redactor(argv).text(exc.render())))
        print(f"ERROR: {text}", file=sys.stderr)
        return error_exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        detail = mask_assignments(_argv_redactor(argv).text(str(exc)))
        print(
            f"internal error: {type(exc).__name__}: {escape_terminal(detail)} ({REPORT_TO})", file=sys.stderr
        )
        if verbosity >= 3:
            traceback.print_exc()
        return ExitCode.INTERNAL


def entry() -> None:
    """The ``pfdiag`` command: ``main()``, then exit without waiting for host threads that an interrupt
    gave up on (their results are already on disk as ``interrupted``)."""
    code = main()
    if any(t.name.startswith("pfdiag-host") and t.is_alive() for t in threading.enumerate()):
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
