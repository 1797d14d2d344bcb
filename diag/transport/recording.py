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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from diag.shared.limits import MAX_OUTPUT_BYTES
from diag.transport.base import CommandResult, Transport

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
            command_key(result.command), result.exit_code, result.stdout, result.stderr, result.elapsed_s
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordedCommand:
        """Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed entry (the reader says where).

        ``stdout`` is the text as it is, or ``stdout_zlib`` that text packed by ``pack_stdout``."""
        stdout = unpack_stdout(data["stdout_zlib"]) if "stdout_zlib" in data else data["stdout"]
        if not isinstance(data["key"], str) or not isinstance(stdout, str):
            raise TypeError(f"a recorded command needs a string key and stdout, got {dict(data)!r:.80}")
        return cls(
            key=data["key"],
            exit_code=int(data["exit_code"]),
            stdout=stdout,
            stderr=str(data.get("stderr") or ""),
            elapsed_s=float(data.get("elapsed_s") or 0.0),
        )


# A probe's answer is ~16-19 KB of /proc text that zlib packs ~4x: hosts.jsonl stores an output over
# this size packed (base64 of zlib, ~5 KB), the rest as text. Level 6 packs 19 KB in ~0.3 ms.
PACK_OVER_CHARS = 2048


def pack_stdout(command: Mapping[str, Any]) -> dict[str, Any]:
    """A ``to_dict`` form whose long ``stdout`` is stored as ``stdout_zlib`` (``from_dict`` reads both).

    >>> packed = pack_stdout({"key": "k", "exit_code": 0, "stdout": "cpu 1 2 3\\n" * 400})
    >>> sorted(packed), len(packed["stdout_zlib"]) < 200
    (['exit_code', 'key', 'stdout_zlib'], True)
    >>> RecordedCommand.from_dict(packed).stdout == "cpu 1 2 3\\n" * 400
    True
    """
    stdout = command.get("stdout")
    if not isinstance(stdout, str) or len(stdout) <= PACK_OVER_CHARS:
        return dict(command)
    packed = {k: v for k, v in command.items() if k != "stdout"}
    packed["stdout_zlib"] = base64.b64encode(zlib.compress(stdout.encode("utf-8"), 6)).decode("ascii")
    return packed


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

    def close(self) -> None:
        self.inner.close()
