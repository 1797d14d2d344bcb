"""Modules return an Outcome and the engine applies it: a module written outside pfdiag gets the same
treatment as the built-in ones (no special case by module or verdict name), reads the host's state
through the context, and the engine's host deadline reaches the transport it opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from diag.findings import Finding, Remediation, Verdict
from diag.inventory import Host
from diag.playbook.engine import Engine, EngineOptions
from diag.playbook.modules import MODULES
from diag.playbook.modules.base import Arg, HostContext, Module, Outcome
from diag.playbook.validate import load_playbook
from diag.transport import TRANSPORTS, CommandResult, ConnectOptions, Deadline, register_transport
from tests.playbook.helpers import run_on_localhost, write_playbook

SEEN: list[Any] = []


class OracleModule(Module):
    """A module as a third party would write one: it reports what it saw and returns everything."""

    name: ClassVar[str] = "oracle"
    args: ClassVar[dict[str, Arg]] = {"code": Arg(default="major-file")}

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        SEEN.append(ctx.verdict)
        finding = Finding(check="oracle", task=ctx.task, status="fail", severity="warning", message="seen")
        return Outcome(
            {"answer": 42},
            findings=(finding,),
            verdict=Verdict(str(args["code"]), "warning", "the oracle spoke", task=ctx.task),
            remediation=(Remediation("Ask again", "later"),),
            facts={"oracle_said": "yes"},
            display="the oracle's -v detail",
        )


@pytest.fixture
def oracle() -> Iterator[None]:
    MODULES["oracle"] = OracleModule
    SEEN.clear()
    try:
        yield
    finally:
        del MODULES["oracle"]


def test_the_engine_applies_a_new_modules_outcome_like_any_other(tmp_path: Path, oracle: None) -> None:
    result, lines = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - name: ask
              oracle: {}
              register: o
            - name: echo
              debug: {msg: "{{ o.answer }} {{ oracle_said }}"}
        """,
    )
    assert result.status == "ok", result.reason
    assert [f.check for f in result.findings] == ["oracle"]
    assert result.verdict is not None and (result.verdict.code, result.verdict.task) == ("major-file", "ask")
    assert [r.title for r in result.remediation] == ["Ask again"]
    assert "ok: [localhost] ask => the oracle's -v detail" in lines
    assert "ok: [localhost] echo => 42 yes" in lines  # registered value and set_fact layer applied
    assert SEEN == [None]  # no verdict yet when it ran


def test_modules_read_the_verdict_so_far_through_the_context(tmp_path: Path, oracle: None) -> None:
    result, _ = run_on_localhost(
        tmp_path,
        """
        - hosts: all
          tasks:
            - verdict: {code: minor-storm, summary: first}
            - oracle: {code: ok}
            - suggest: {for: ok, title: "applies to the verdict the oracle set"}
        """,
    )
    [seen] = SEEN
    assert isinstance(seen, Verdict) and seen.code == "minor-storm"
    assert result.verdict is not None and result.verdict.code == "ok"  # the engine applies, never judges
    assert [r.title for r in result.remediation] == ["Ask again", "applies to the verdict the oracle set"]


class CountingTransport:
    """Our Transport faked for one test: says what deadline the engine gave it."""

    local = False
    opened: ClassVar[list[Deadline]] = []

    def __init__(self, host: str, deadline: Deadline) -> None:
        self.host = host
        CountingTransport.opened.append(deadline)

    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        return CommandResult(command, 0, f"ran {command}\n", "", 0.0)

    def close(self) -> None:
        pass


def test_a_registered_transport_is_found_by_ansible_connection_and_gets_the_engines_deadline(
    tmp_path: Path,
) -> None:
    def factory(host: str, hostvars: dict[str, object], options: ConnectOptions, become: bool,
                deadline: Deadline) -> CountingTransport:  # fmt: skip
        return CountingTransport(host, deadline)

    register_transport("counting", factory)
    try:
        playbook = load_playbook(write_playbook(tmp_path, "- hosts: all\n  tasks:\n    - command: uptime\n"))
        host = Host("h1", {"ansible_connection": "counting"}, ())
        recorded: list[Any] = []
        engine = Engine(EngineOptions(host_deadline_s=123.0), on_host_done=lambda r, c: recorded.extend(c))
        [result] = engine.run([(host, list(playbook.plays))])
    finally:
        del TRANSPORTS["counting"]
    assert result.status == "ok", result.reason
    [deadline] = CountingTransport.opened
    assert deadline.budget_s == 123.0 and 0 < deadline.remaining_s() <= 123.0
    [command] = recorded
    assert (command.key, command.stdout) == ("uptime", "ran uptime\n")


def test_an_unknown_connection_fails_the_host_listing_the_known_ones(tmp_path: Path) -> None:
    result, _ = run_on_localhost(
        tmp_path,
        "- hosts: all\n  tasks:\n    - command: 'true'\n",
        host_vars={"ansible_connection": "telnet"},
    )
    assert result.status == "failed"
    assert "connection type 'telnet' is not supported (known: local, paramiko, replay, smart, ssh)" in (
        result.reason or ""
    )
