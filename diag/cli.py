"""The command line: parse arguments, call ``diag.api``, print, and map outcomes to exit codes.

In: ``argv`` (``pfdiag run|report|inventory ...``). Out: text on stdout/stderr and an exit code:
0 ok; 1 other error (a file named on the command line is missing, the Dask scheduler unreachable...);
2 a host failed; 4 a host unreachable, or a playbook/inventory/YAML/expression error; 5 bad options;
10 ``--fail-on`` matched; 99 interrupted (or the Dask cluster lost); 250 internal error.
A ``DiagError`` is one message, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import sys
import traceback
from enum import IntEnum
from pathlib import Path
from typing import Any, NoReturn

import diag
from diag.errors import DiagError, InventoryError, ParseError, PlaybookError, TransportError, UsageError
from diag.findings import UNREACHABLE_STATES, RunResult, Severity
from diag.playbook import DEFAULT_FORKS  # not .engine: `inventory` and `report` need no Jinja
from diag.secrets import Redactor, secret_values
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
    states = {host.status for host in run.hosts}
    if states & set(UNREACHABLE_STATES):
        return ExitCode.UNREACHABLE_OR_PARSE
    if states & set(FAILED_STATES):
        return ExitCode.HOST_FAILED
    if fail_on is not None:
        limit = Severity.parse(fail_on)
        severities = [h.verdict.severity for h in run.hosts if h.verdict]
        if any(Severity[s] >= limit for s in severities if s in Severity.__members__):
            return ExitCode.FAIL_ON
    return ExitCode.OK


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (exit 5) instead of exiting with 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")


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
    run.add_argument("--fail-on", choices=[s.name for s in Severity], help="exit 10 at a verdict this bad")
    run.add_argument("-u", "--user", help="SSH user")
    run.add_argument("--private-key", help="SSH private key file")
    run.add_argument("-T", "--timeout", type=float, default=10.0, help="SSH connect + banner timeout, s (10)")
    run.add_argument("--command-timeout", type=float, help="per-command timeout, s (default: the task's)")
    run.add_argument("--host-deadline", type=float, help="time budget per host, s (default 60 + interval)")
    run.add_argument("--host-key-policy", choices=["strict", "accept-new"], default="strict")
    run.add_argument("--ssh-config", help="ssh_config file to read instead of ~/.ssh/config (ssh -F)")
    run.add_argument("--known-hosts", action="append", default=[], help="extra known_hosts file (repeatable)")
    run.add_argument("-b", "--become", action="store_true", help="run probes with sudo -n")
    shard = run.add_mutually_exclusive_group()
    shard.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="shard the run over this Dask cluster")
    shard.add_argument("--workers", type=int, metavar="N", help="shard the run over N local worker processes")

    report = sub.add_parser("report", help="render a saved run folder again")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--format", choices=["md", "json", "csv"], default="md")
    report.add_argument(
        "-o", "--output", type=Path, help="write here instead of stdout (csv: a folder for all three files)"
    )

    inv = sub.add_parser("inventory", help="show an inventory as ansible-inventory does")
    inv.add_argument("-i", "--inventory", action="append", required=True)
    view = inv.add_mutually_exclusive_group()
    view.add_argument("--list", action="store_true")
    view.add_argument("--graph", action="store_true")
    view.add_argument("--host")
    return parser


def _positive(value: float | int | None, flag: str) -> None:
    if value is not None and value <= 0:
        raise UsageError(f"{flag} must be positive, got {value}")


def _request(args: argparse.Namespace, argv: list[str]) -> Any:
    from diag.api import RunRequest

    _positive(args.forks, "-f/--forks")
    _positive(args.timeout, "-T/--timeout")
    _positive(args.command_timeout, "--command-timeout")
    _positive(args.host_deadline, "--host-deadline")
    _positive(args.workers, "--workers")
    if args.scheduler is not None and not args.scheduler.startswith(("tcp://", "tls://")):
        raise UsageError(f"--scheduler wants tcp://HOST:PORT, got {args.scheduler!r}")
    connect = ConnectOptions(
        user=args.user,
        private_key=args.private_key,
        # like OpenSSH's ConnectTimeout: a host that accepts TCP but never sends its banner counts too
        connect_timeout_s=args.timeout,
        banner_timeout_s=args.timeout,
        command_timeout_s=args.command_timeout,
        host_key_policy=args.host_key_policy,
        ssh_config=args.ssh_config,
        known_hosts=tuple(args.known_hosts),
        become=args.become,
    )

    def emit(line: str) -> None:
        stream = sys.stderr if line.startswith("[WARNING]") else sys.stdout
        print(line, file=stream, flush=True)

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
        scheduler=args.scheduler,
        workers=args.workers,
    )


def _play_header(index: int, play: Any) -> str:
    return f"  play #{index} ({play.hosts}): {play.name}"


def cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from diag import api

    request = _request(args, argv)
    if args.plots and importlib.util.find_spec("matplotlib") is None:
        # say so before sampling a fleet, not after
        raise UsageError("--plots needs matplotlib", hint="pip install 'pfdiag[plots]'")
    if args.syntax_check:
        playbook = api.check_syntax(request)
        print(f"playbook: {playbook.path}")
        return ExitCode.OK
    if args.list_tasks:
        print(f"playbook: {request.playbook}\n")
        for i, (play, tasks) in enumerate(api.list_tasks(request), 1):
            print(_play_header(i, play) + "\n    tasks:")
            for task in tasks:
                print(f"      {task.name}\tTAGS: [{', '.join(task.tags)}]")
        return ExitCode.OK
    if args.list_hosts:
        print(f"playbook: {request.playbook}\n")
        for i, (play, hosts) in enumerate(api.list_hosts(request), 1):
            print(_play_header(i, play) + f"\n    pattern: {play.hosts!r}\n    hosts ({len(hosts)}):")
            for name in hosts:
                print(f"      {name}")
        return ExitCode.OK
    from diag.report import render_terminal

    run = api.run_playbook(request)
    print(render_terminal(run))
    if run.interrupted:
        print("interrupted: finished hosts are saved in the run folder", file=sys.stderr)
    return run_exit_code(run, args.fail_on)


def cmd_report(args: argparse.Namespace) -> int:
    from diag import api

    run = api.load_run(args.run_dir)
    if args.format == "md":
        from diag.report.markdown import render_markdown

        text = render_markdown(run)
    elif args.format == "json":
        from diag.report.files import run_to_json

        text = json.dumps(run_to_json(run), indent=2, default=str) + "\n"
    elif args.output is not None:
        from diag.report import write_csv

        try:
            for path in write_csv(run, args.output):
                print(path)
        except OSError as exc:
            raise DiagError(f"cannot write CSV files into {str(args.output)!r}: {exc}") from None
        return ExitCode.OK
    else:
        from diag.report import render_csv

        text = render_csv(run)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise DiagError(f"cannot write {str(args.output)!r}: {exc}") from None
    return ExitCode.OK


def cmd_inventory(args: argparse.Namespace) -> int:
    from diag.inventory import load_inventory

    inv = load_inventory(list(args.inventory), cwd=Path.cwd())
    if args.graph:
        print(inv.graph())
    elif args.host:
        if args.host not in inv.hosts:
            raise InventoryError(f"host {args.host!r} is not in the inventory")
        print(json.dumps(inv.host_vars_json(args.host), indent=4, sort_keys=True, default=str))
    else:
        print(json.dumps(inv.to_list_json(), indent=4, sort_keys=True, default=str))
    return ExitCode.OK


def _argv_redactor(argv: list[str]) -> Redactor:
    """Masks the values of secret ``-e`` variables (those that parse) in an error message."""
    from diag.playbook.variables import parse_extra_var

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
        return int(cmd_inventory(args))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else ExitCode.OK
    except DiagError as exc:
        print(f"ERROR: {_argv_redactor(argv).text(exc.render())}", file=sys.stderr)
        return error_exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        print(f"internal error: {type(exc).__name__}: {exc} ({REPORT_TO})", file=sys.stderr)
        if verbosity >= 3:
            traceback.print_exc()
        return ExitCode.INTERNAL
