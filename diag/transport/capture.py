"""Reading a command's output with a cap, for every transport.

In: chunks of one output stream as they arrive. Out: at most ``MAX_OUTPUT_BYTES`` of them, then a line
saying how much was cut. The rest is still read (a command blocked on a full pipe would never end) but
not kept: a probe prints KiBs, and 300 MB of stdout once took 1.6 GB of controller memory.

>>> capped = Capped(10)
>>> for chunk in (b"12345", b"67890abc", b"def"):
...     capped.add(chunk)
>>> capped.value()
b'1234567890\\n[pfdiag: output cut at 10 of 16 bytes]\\n'
"""

from __future__ import annotations

from diag.shared.limits import MAX_OUTPUT_BYTES


class Capped:
    """One output stream, kept up to ``limit`` bytes (see the module docstring)."""

    def __init__(self, limit: int = MAX_OUTPUT_BYTES) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.kept = 0
        self.seen = 0

    def add(self, data: bytes) -> None:
        self.seen += len(data)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(data[:room])
            self.kept += min(room, len(data))

    def value(self) -> bytes:
        text = b"".join(self.parts)
        if self.seen > self.kept:
            text += f"\n[pfdiag: output cut at {self.kept:,} of {self.seen:,} bytes]\n".encode()
        return text
