"""Every command a host answered, recorded so a run can be replayed without the host.

In: a ``Transport``. Out: the same transport (``RecordingTransport``) that keeps a ``RecordedCommand``
per command that ran (any exit code), in order; the engine writes them to ``hosts.jsonl`` and
``diag.transport.replay`` answers from them. A command that raised ``TransportError`` (unreachable,
timeout) is not recorded: the host's recorded state says how it failed.

A command is recorded under its key (``command_key``), not its full text: pfdiag's own script
commands (``sh -c '<probe.sh>' pfdiag MODE ARGS``) are keyed ``pfdiag MODE``, because the script text
changes between pfdiag versions and the arguments carry the requested interval, ``top_n`` and the
controller's pid, none of which a replay can honour (the recorded interval is the one measured). Any
other command (a ``command:`` task's ``cmd``) is keyed by its exact text.

>>> command_key("sh -c 'echo \\"'\\"'hi'\\"'\\"'' pfdiag probe 2 20 1 '' 4242")
'pfdiag probe'
>>> command_key("cat /proc/loadavg")
'cat /proc/loadavg'
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from diag.shared.limits import MAX_OUTPUT_BYTES
from diag.transport.base import CommandResult, Stream, Transport

SCRIPT_PREFIX = "sh -c '"
SCRIPT_NAME = "' pfdiag "  # $0 of pfdiag's script commands, right after the quoted script


def command_key(command: str) -> str:
    """The stable identity a command is recorded and replayed under (see the module docstring)."""
    if command.startswith(SCRIPT_PREFIX):
        at = command.rfind(SCRIPT_NAME)
        if at > 0:
            mode = command[at + len(SCRIPT_NAME) :].split(" ", 1)[0]
            if mode.isidentifier():
                return f"pfdiag {mode}"
    return command


@dataclass(frozen=True, slots=True)
class RecordedCommand:
    """One command a host answered: its key, exit code and output (one element of hosts.jsonl's
    ``commands``)."""

    key: str
    exit_code: int
    stdout: str
    stderr: str = ""
    elapsed_s: float = 0.0

    @classmethod
    def of(cls, result: CommandResult) -> RecordedCommand:
        return cls(
            command_key(result.command),
            result.exit_code,
            result.stdout,
            result.stderr,
            round(result.elapsed_s, 3),  # milliseconds are all a replay's timing needs
        )

    def __post_init__(self) -> None:
        """A malformed hosts.jsonl entry (``diag.shared.records.from_data`` fills what is missing with
        None) raises ``TypeError`` here, and the run folder's reader says where."""
        if not isinstance(self.key, str) or not isinstance(self.stdout, str):
            raise TypeError(f"a recorded command needs a string key and stdout, got {self.key!r:.40}")
        if not isinstance(self.exit_code, int) or isinstance(self.exit_code, bool):
            raise TypeError(f"a recorded command needs a whole-number exit_code, got {self.exit_code!r:.40}")
        if not isinstance(self.stderr, str) or not isinstance(self.elapsed_s, int | float):
            raise TypeError(
                f"a recorded command's stderr and elapsed_s are a string and a number: {self.key!r:.40}"
            )


@dataclass(frozen=True, slots=True)
class StoredAnswers:
    """A host's recorded commands left in the recording until its replay starts: a 10,000-host
    recording holds ~200 MB of answers, which the controller must not load all at once.
    ``load`` reads them (``diag.runs.store`` seeks to the host's line)."""

    load: Callable[[], tuple[RecordedCommand, ...]]


def recorded_answers(value: object) -> tuple[RecordedCommand, ...] | None:
    """The recorded commands a host var holds (a list of them, or ``StoredAnswers`` read now); None
    when it holds something else."""
    if isinstance(value, StoredAnswers):
        value = value.load()
    if isinstance(value, list | tuple) and all(isinstance(c, RecordedCommand) for c in value):
        return tuple(value)
    return None


# A probe's answer is ~5-9 KB of /proc text (~16-19 KB before probe version 3 sent only the vmstat and
# meminfo lines read) that zlib packs ~4x: hosts.jsonl stores an output over this size packed (base64
# of zlib), the rest as text. Level 6 packs 19 KB in ~0.3 ms.
PACK_OVER_CHARS = 2048


def pack_stdout(command: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded command's plain data whose long ``stdout`` is stored as ``stdout_zlib``.

    >>> packed = pack_stdout({"key": "k", "exit_code": 0, "stdout": "cpu 1 2 3\\n" * 400})
    >>> sorted(packed), len(packed["stdout_zlib"]) < 200
    (['exit_code', 'key', 'stdout_zlib'], True)
    >>> unpack_command(packed)["stdout"] == "cpu 1 2 3\\n" * 400
    True
    """
    stdout = command.get("stdout")
    if not isinstance(stdout, str) or len(stdout) <= PACK_OVER_CHARS:
        return dict(command)
    packed = {k: v for k, v in command.items() if k != "stdout"}
    packed["stdout_zlib"] = base64.b64encode(zlib.compress(stdout.encode("utf-8"), 6)).decode("ascii")
    return packed


def unpack_command(command: Mapping[str, Any]) -> Mapping[str, Any]:
    """A recorded command's plain data with its ``stdout`` as text, packed or not (``pack_stdout``)."""
    if "stdout_zlib" not in command:
        return command
    unpacked = {k: v for k, v in command.items() if k != "stdout_zlib"}
    unpacked["stdout"] = unpack_stdout(command["stdout_zlib"])
    return unpacked


def unpack_stdout(packed: object) -> str:
    """The text ``pack_stdout`` packed; ``ValueError`` when it is not such a text or unpacks past
    ``MAX_OUTPUT_BYTES`` (more than any command's output pfdiag reads)."""
    if not isinstance(packed, str):
        raise TypeError(f"stdout_zlib must be a string, got {type(packed).__name__}")
    try:
        inflate = zlib.decompressobj()
        data = inflate.decompress(base64.b64decode(packed, validate=True), MAX_OUTPUT_BYTES)
        if inflate.unconsumed_tail or not inflate.eof:
            raise ValueError(f"stdout_zlib is cut short or unpacks past {MAX_OUTPUT_BYTES} bytes")
        return data.decode("utf-8")
    except (zlib.error, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"stdout_zlib is not a packed output: {exc}") from None


class RecordingTransport:
    """Runs commands through ``inner`` and records each answer in ``recorded``."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.host = inner.host
        self.local = inner.local
        self.recorded: list[RecordedCommand] = []

    def run(self, command: str, *, timeout_s: float) -> CommandResult:
        result = self.inner.run(command, timeout_s=timeout_s)
        self.recorded.append(RecordedCommand.of(result))
        return result

    def stream(self, command: str) -> Stream:
        """The inner transport's stream, not recorded: a replay cannot stream anyway."""
        return self.inner.stream(command)

    def close(self) -> None:
        self.inner.close()
