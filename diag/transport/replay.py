"""The replay transport (``ansible_connection=replay``): answers commands from a recorded run.

In: the host's ``RecordedCommand`` list, or ``StoredAnswers`` read when the host starts (hostvar
``pfdiag_replay``, set by ``pfdiag run --replay``).
Out: ``CommandResult`` as the host gave it then; it contacts nothing and waits for nothing. The n-th
command with a key (``diag.transport.recording.command_key``) gets the n-th recorded answer with that
key; a command the host never answered that often fails the host (``TransportError``, state failed).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import NoReturn

from diag.shared.errors import TransportError
from diag.transport.base import CommandResult
from diag.transport.recording import RecordedCommand, command_key, recorded_answers

REPLAY_VAR = "pfdiag_replay"


def _short(command: str, limit: int = 80) -> str:
    return command if len(command) <= limit else command[: limit - 3] + "..."


class ReplayTransport:
    """A host as it answered in a recorded run."""

    local = False

    def __init__(self, host: str, commands: Sequence[RecordedCommand]) -> None:
        self.host = host
        self._answers: dict[str, deque[RecordedCommand]] = {}
        for recorded in commands:
            self._answers.setdefault(recorded.key, deque()).append(recorded)
        self._known = sorted(self._answers)

    @classmethod
    def from_hostvars(cls, host: str, hostvars: dict[str, object]) -> ReplayTransport:
        commands = recorded_answers(hostvars.get(REPLAY_VAR))
        if commands is None:
            raise TransportError(
                "ansible_connection=replay needs a recorded run to answer from",
                state="failed",
                where=host,
                hint="use `pfdiag run PLAYBOOK --replay RUN_DIR`",
            )
        return cls(host, commands)

    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        key = command_key(command)
        answers = self._answers.get(key)
        if not answers:
            known = ", ".join(repr(_short(k, 40)) for k in self._known) or "none"
            seen = "never recorded" if answers is None else "not recorded that many times"
            raise TransportError(
                f"command {_short(key)!r} was {seen} for this host in the replayed run (recorded: {known})",
                state="failed",
                where=self.host,
                hint="a replay can only answer what the original run asked; run it live to ask more",
            )
        recorded = answers.popleft()
        return CommandResult(
            command, recorded.exit_code, recorded.stdout, recorded.stderr, recorded.elapsed_s
        )

    def stream(self, command: str) -> NoReturn:
        """A recording holds answers to commands that ended, not a live channel: nothing to stream."""
        raise TransportError(
            "a replayed host cannot stream (a recorded run holds answers, not a live channel)",
            state="failed",
            where=self.host,
            hint="watch the live host: a replay answers only `pfdiag run --replay`",
        )

    def close(self) -> None:
        """Nothing to release."""
