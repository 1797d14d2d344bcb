"""Before a history file is used, and when SQLite refuses it: is it ours, and what went wrong, said plainly.

In: the history's path (and the schema version this pfdiag writes), or an ``sqlite3.Error``. Out:
nothing, or a ``HistoryError`` saying what failed, where and what to do. A file is checked read-only
BEFORE the history enables WAL or creates a table, so a foreign SQLite file or a history of a newer
pfdiag is left exactly as it was (both were used silently, and switched to WAL). SQLite's own words
("unable to open database file", "database is locked") become the cause: a read-only file system, a
folder pfdiag may not write, another audit holding the write lock (after ``wait_s``), a full disk.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
from pathlib import Path

from diag.history.queries import HistoryError

SQLITE_MAGIC = b"SQLite format 3\x00"
OUR_TABLES = frozenset({"meta", "runs", "host_results", "findings", "problems"})
ANOTHER = "give another file with --history PATH (or PFDIAG_HISTORY)"


def check_history_file(path: Path, version: int) -> None:
    """Refuse a file that is not a pfdiag history of schema ``version`` or older; a new file passes."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _cannot_open(path, exc.strerror or str(exc)) from None
    if not magic:
        return  # an empty file: SQLite makes a database of it
    if magic != SQLITE_MAGIC:
        raise HistoryError(
            f"{str(path)!r} is not an SQLite file, so not a pfdiag audit history; left untouched",
            hint=ANOTHER,
        )
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            found = None
            if "meta" in tables:
                found = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.Error as exc:
        raise explain(exc, path, "open") from None
    if not tables - {"sqlite_sequence"}:
        return  # an empty database
    if not {"meta", "runs"} <= tables or found is None:
        listed = ", ".join(sorted(tables - {"sqlite_sequence"})[:8])
        raise HistoryError(
            f"{str(path)!r} is an SQLite database of something else (tables: {listed}), not a pfdiag "
            "audit history; left untouched",
            hint=ANOTHER,
        )
    try:
        schema = int(found[0])
    except (TypeError, ValueError):
        schema = version + 1  # unreadable: not one this pfdiag knows
    if schema > version:
        raise HistoryError(
            f"the audit history {str(path)!r} was written by a newer pfdiag (schema {found[0]}; this "
            f"pfdiag knows up to {version}); left untouched",
            hint="run the newer pfdiag, or " + ANOTHER,
        )


def explain(exc: sqlite3.Error, path: Path, doing: str, *, wait_s: float | None = None) -> HistoryError:
    """SQLite's error while ``doing`` ("open", "write") the history, as what failed and what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        waited = f" within {wait_s:g} s" if wait_s is not None else ""
        return HistoryError(
            f"the audit history {str(path)!r} is locked by another audit: "
            f"its write lock was not free{waited}",
            hint="let the other audit finish (a timer's audits overlap when one outlasts the period) and "
            "run again, or " + ANOTHER,
        )
    if name.startswith("SQLITE_FULL") or "disk is full" in text or _disk_full(path):
        return HistoryError(
            f"cannot {doing} the audit history {str(path)!r}: the disk is full ({text})",
            hint=f"free space on the file system of {str(path.parent)!r}, or " + ANOTHER,
        )
    if _read_only_fs(path):
        return HistoryError(
            f"cannot {doing} the audit history {str(path)!r}: its folder is on a read-only file system",
            hint="give --history a file on a writable disk (or PFDIAG_HISTORY); `pfdiag history` reads a "
            "copy too",
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or "readonly" in text:
        return HistoryError(
            f"cannot {doing} the audit history {str(path)!r}: {text} (the file or its folder is not "
            "writable by this user, or the folder is missing)",
            hint="check the permissions of the file and its folder (SQLite writes a -wal and a -shm file "
            "beside it), or " + ANOTHER,
        )
    return HistoryError(
        f"cannot {doing} the audit history {str(path)!r}: {text}",
        hint="check the file's disk and permissions, or " + ANOTHER,
    )


def _cannot_open(path: Path, reason: str) -> HistoryError:
    return HistoryError(f"cannot open the audit history {str(path)!r}: {reason}", hint=ANOTHER)


def _disk_full(path: Path) -> bool:
    """Whether the history's file system has no room left (SQLite says "disk I/O error" when the -shm
    file cannot grow)."""
    try:
        stat = os.statvfs(_existing(path.parent))
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 64 * 1024


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _read_only_fs(path: Path) -> bool:
    """Whether the nearest existing folder of ``path`` is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(_existing(path.parent)).f_flag & os.ST_RDONLY)
    except OSError:
        return False
