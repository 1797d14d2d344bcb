"""The arguments of every subcommand: argparse parsers, and the connection options read back.

In: nothing (``build_parser``) or parsed arguments (``connect_options``). Out: the parser the CLI runs,
and ``ConnectOptions`` for the services. Options cannot be abbreviated, and a bad one is a
``UsageError`` (exit 5), never argparse's exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

import diag
from diag.cli.audit import add_audit_parsers
from diag.findings import Severity
from diag.history.baseline import DEFAULT_DAYS as DEFAULT_BASELINE_DAYS
from diag.playbook import DEFAULT_FORKS  # not .engine: `inventory` and `report` need no Jinja
from diag.shared.errors import (
    UsageError,
)
from diag.shared.limits import finite_positive
from diag.transport import ConnectOptions


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (exit 5) instead of exiting with 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # no prefix matching: `--extra api_token=...` must not silently mean --extra-vars (and then
        # escape the masking of -e values in run.json)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")


def split_csv(values: list[str] | None) -> tuple[str, ...]:
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
    """The SSH options ``run``, ``audit`` and ``watch`` share (``connect_options`` reads them back)."""
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


def connect_options(args: argparse.Namespace) -> ConnectOptions:
    """``ConnectOptions`` from the shared SSH options (and ``--command-timeout``/``-b`` where the
    subcommand has them)."""
    positive(args.timeout, "-T/--timeout")
    command_timeout = getattr(args, "command_timeout", None)
    positive(command_timeout, "--command-timeout")
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


def positive(value: float | int | None, flag: str) -> None:
    if value is not None:
        finite_positive(value, flag)  # nan and inf too: they would mean "never" or "at once"
