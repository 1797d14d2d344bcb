"""The command line: parse arguments into a request, make one library call, print, map to an exit code.

Each subcommand is a row of ``COMMANDS``; what it prints is text the library returns (``diag.report``
renders it), and files, SQL and playbooks are the services' (``diag.run``, ``diag.audit``,
``diag.watch``, ``diag.inventory.show``).
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
import functools
import importlib.util
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diag.cli import audit as cli_audit
from diag.cli.exits import REPORT_TO, ExitCode, error_exit_code, run_exit_code
from diag.cli.options import build_parser, connect_options, positive, split_csv
from diag.shared.errors import (
    DiagError,
    UsageError,
)
from diag.shared.escape import escape_lines, escape_terminal
from diag.shared.limits import check_scheduler, check_workers
from diag.shared.secrets import Redactor, argv_redactor, mask_assignments
from diag.shared.units import parse_duration


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


def cmd_watch(args: argparse.Namespace, argv: list[str]) -> int:
    from diag.notify.delivery import notify_url
    from diag.watch.service import WatchRequest, watch

    positive(args.count, "--count")
    positive(args.baseline_days, "--baseline-days")
    connect = connect_options(args)
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
        _warn(warning)
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


def _request(args: argparse.Namespace, argv: list[str]) -> Any:
    from diag.run.service import RunRequest

    positive(args.forks, "-f/--forks")
    connect = connect_options(args)
    positive(args.host_deadline, "--host-deadline")
    if args.workers is not None:
        check_workers(args.workers)
    positive(args.baseline_days, "--baseline-days")
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
        tags=split_csv(args.tags),
        skip_tags=split_csv(args.skip_tags),
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


def cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from diag.report import plan_view, render_terminal
    from diag.run import service as api

    request = _request(args, argv)
    if args.plots and importlib.util.find_spec("matplotlib") is None:
        # say so before sampling a fleet, not after
        raise UsageError("--plots needs matplotlib", hint="pip install 'pfdiag[plots]'")
    if args.syntax_check:
        _out(plan_view.render_syntax_ok(api.check_syntax(request).path))
        return ExitCode.OK
    if args.list_tasks:
        _out(plan_view.render_task_list(request.playbook, api.list_tasks(request)))
        return ExitCode.OK
    if args.list_hosts:
        _out(plan_view.render_host_list(request.playbook, api.list_hosts(request)))
        return ExitCode.OK
    run = api.run_playbook(request)
    _out(render_terminal(run))
    if run.interrupted:
        print("interrupted: finished hosts are saved in the run folder", file=sys.stderr)
    return run_exit_code(run, args.fail_on)


def cmd_audit(args: argparse.Namespace, argv: list[str]) -> int:
    """``pfdiag audit``: ``run`` plus the history, diff, notifications, textfile; or write a timer."""
    from diag.audit.schedule import schedule_audit
    from diag.audit.service import run_audit
    from diag.report.audit_view import render_audit

    if args.syntax_check or args.list_tasks or args.list_hosts:
        return cmd_run(args, argv)
    if args.install_timer is not None or args.print_cron:
        _out(schedule_audit(cli_audit.schedule_request(args, argv)))
        return ExitCode.OK
    result = run_audit(cli_audit.audit_request(args, _request(args, argv)))
    _out(render_audit(result))
    for warning in result.warnings:
        _warn(warning)
    if result.run.interrupted:
        print("interrupted: finished hosts are saved; the audit is recorded as incomplete", file=sys.stderr)
    code = run_exit_code(result.run, None if args.fail_on_new else args.fail_on)
    if code == ExitCode.OK and args.fail_on_new and cli_audit.new_at_or_above(result, args.fail_on):
        return ExitCode.FAIL_ON
    return code


def cmd_report(args: argparse.Namespace, argv: list[str]) -> int:
    from diag.run.rerender import RerenderRequest
    from diag.watch.report import rerender

    request = RerenderRequest(
        run_dir=args.run_dir,
        format=args.format,
        output=args.output,
        escape=sys.stdout.isatty(),
        warn=lambda line: print(f"[WARNING]: {line}", file=sys.stderr),
    )
    done = rerender(request)
    if done.text:
        _out(done.text, end="")
    return ExitCode.OK if done.complete else ExitCode.ERROR


def cmd_inventory(args: argparse.Namespace, argv: list[str]) -> int:
    from diag.inventory.show import show_inventory

    _out(show_inventory(args.inventory, Path.cwd(), graph=args.graph, host=args.host))
    return ExitCode.OK


def _warn(text: str) -> None:
    print(f"[WARNING]: {escape_terminal(text)}", file=sys.stderr)


# The subcommands: each parses into one request and makes one library call.
COMMANDS: dict[str, Callable[[argparse.Namespace, list[str]], int]] = {
    "run": cmd_run,
    "report": cmd_report,
    "audit": cmd_audit,
    "history": cli_audit.cmd_history,
    "watch": cmd_watch,
    "inventory": cmd_inventory,
}


def _argv_redactor(argv: list[str]) -> Redactor:
    """Masks the values of secret ``-e`` variables (those that parse) in an error message."""
    from diag.playbook.language.variables import parse_extra_var

    return argv_redactor(argv, functools.partial(parse_extra_var, cwd=Path.cwd()))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pfdiag`` and ``python -m diag``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbosity = 0
    try:
        args = build_parser().parse_args(argv)
        verbosity = getattr(args, "verbose", 0)
        return int(COMMANDS[args.command](args, argv))
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
