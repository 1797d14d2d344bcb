"""Every report file is written here: text in, a file that is either complete or absent.

A regular file (or a new path) gets a temp file in the same folder and a rename, so a crash or a full
disk never leaves half a report; a device or FIFO (``--json /dev/stdout``) is written in place and never
replaced (``diag.safeio.write_text``). A full disk or a permission problem is a ``ReportError`` naming
the path.
"""

from __future__ import annotations

from pathlib import Path

from diag.safeio import write_text


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (see the module docstring)."""
    write_text(path, text, what="report file")
