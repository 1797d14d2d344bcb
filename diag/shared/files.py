"""Reading and writing the paths a user names, without damaging them or hanging on them.

In: a path and what it is (for the message). Out: its text, or the file written; every failure is one
``DiagError`` (of the caller's class) with the path and the OS reason, never a traceback.

Reading refuses what is not a regular file (a FIFO would block, ``/dev/zero`` never ends) and files
over ``MAX_INPUT_BYTES``. Writing replaces a regular file (or creates a new one) atomically, through a
temp file in the same folder and a rename, so a crash never leaves half a report; anything else that
already exists (``/dev/stdout``, ``/dev/full``, a FIFO) is written in place, since a rename would
replace the device node itself; a symlink is followed (or refused, where the caller says so: unit
files). Files pfdiag creates have mode ``FILE_MODE`` (0600: a run folder names hosts, processes and
their users) unless the caller names another reader. Every file pfdiag writes goes through
``write_text`` (reports, run folders, charts, the textfile, unit files).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from diag.shared.errors import DiagError, ReportError, UsageError
from diag.shared.limits import MAX_INPUT_BYTES

FILE_MODE = 0o600
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def kind_of(mode: int) -> str:
    """What a non-regular file is, for a message.

    >>> kind_of(stat.S_IFIFO | 0o644)
    'a FIFO'
    """
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_text(
    path: Path,
    *,
    what: str = "file",
    error: type[DiagError] = DiagError,
    where: str | None = None,
    limit: int = MAX_INPUT_BYTES,
) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes; ``error`` for anything else.

    ``FileNotFoundError`` passes through so callers can say "not found" their own way.
    """
    where = where or str(path)
    with _open_regular(path, what=what, error=error, where=where) as handle:
        try:
            data = _read_at_most(handle, limit + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {str(path)!r}: {exc.strerror}", where=where) from None
    if len(data) > limit:
        raise error(f"{what} {str(path)!r} is larger than {limit // (1024 * 1024)} MiB", where=where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"{what} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})",
            where=f"{path}:{line}",
        ) from None


def read_lines(
    path: Path,
    *,
    what: str = "file",
    error: type[DiagError] = DiagError,
    limit: int = MAX_INPUT_BYTES,
) -> Iterator[tuple[int, str, bool]]:
    """The lines of a regular UTF-8 file of at most ``limit`` bytes, one at a time, as (number, text
    without its newline, is-last): a run log is read without holding all of it (a 100,000-host
    ``hosts.jsonl`` is GBs). The same refusals as ``read_text``, raised before the first line.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as f:
    ...     _ = f.write("a\\nb"); f.flush()
    ...     list(read_lines(Path(f.name)))
    [(1, 'a', False), (2, 'b', True)]
    """
    handle = _open_regular(path, what=what, error=error, where=str(path))
    size = os.fstat(handle.fileno()).st_size
    if size > limit:
        handle.close()
        raise error(f"{what} {str(path)!r} is larger than {limit // (1024 * 1024)} MiB", where=str(path))
    return _lines_of(handle, path, what, error)


def _lines_of(
    handle: BinaryIO, path: Path, what: str, error: type[DiagError]
) -> Iterator[tuple[int, str, bool]]:
    with handle:
        number, line = 0, _readline(handle, path, what, error)
        while line:
            following = _readline(handle, path, what, error)
            number += 1
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(
                    f"{what} is not UTF-8 text (byte {line[exc.start]:#04x})", where=f"{path}:{number}"
                ) from None
            yield number, text.rstrip("\n"), not following
            line = following


def read_line_at(
    path: Path,
    offset: int,
    *,
    what: str = "file",
    error: type[DiagError] = DiagError,
    limit: int = MAX_INPUT_BYTES,
) -> str:
    """The line of a regular UTF-8 file that starts at byte ``offset``, without its newline: one host of
    a run log read back when a report needs its details, instead of every host held in memory. A line
    over ``limit`` bytes is refused (``error``), as ``read_lines`` refuses such a file.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as f:
    ...     _ = f.write("a\\nbc\\n"); f.flush()
    ...     read_line_at(Path(f.name), 2)
    'bc'
    """
    with _open_regular(path, what=what, error=error, where=str(path)) as handle:
        try:
            handle.seek(offset)
            line = handle.readline(limit + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {str(path)!r}: {exc.strerror}", where=str(path)) from None
    if len(line) > limit:
        raise error(f"a line of {what} {str(path)!r} is larger than {limit // (1024 * 1024)} MiB")
    try:
        return line.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} is not UTF-8 text (byte {line[exc.start]:#04x})", where=f"{path}@{offset}"
        ) from None


def _readline(handle: BinaryIO, path: Path, what: str, error: type[DiagError]) -> bytes:
    try:
        return handle.readline()
    except OSError as exc:
        raise error(f"cannot read {what} {str(path)!r}: {exc.strerror}", where=str(path)) from None


def _open_regular(path: Path, *, what: str, error: type[DiagError], where: str) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; ``error`` says what it is otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise error(f"{what} {str(path)!r} is a directory", where=where) from None
    except OSError as exc:
        raise error(f"cannot read {what} {str(path)!r}: {exc.strerror}", where=where) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise error(f"{what} {str(path)!r} is a directory", where=where)
        raise error(
            f"{what} {str(path)!r} is {kind_of(mode)}, not a regular file",
            where=where,
            hint="give a file (pfdiag does not read devices, FIFOs or sockets)",
        )
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _read_at_most(handle: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes, in chunks: ``read(size)`` allocates all of ``size`` up front (4 GiB for
    a run log's cap), whatever the file holds."""
    chunks: list[bytes] = []
    left = size
    while left > 0 and (chunk := handle.read(min(left, 1024 * 1024))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def silence(stream: IO[str]) -> None:
    """Point ``stream``'s descriptor at /dev/null: its reader went away (``| head -1``), so the rest of
    the output, Python's own flush at exit included, goes nowhere instead of raising again."""
    with contextlib.suppress(OSError, ValueError):  # not a real descriptor (a StringIO): nothing to do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def _target(path: Path) -> Path:
    """``path`` with symlinks resolved, so the link stays and its target is written."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_output_file(path: Path, what: str) -> None:
    """Before a run: ``path`` can be written as a file (not a folder, its folder exists or can be made)."""
    target = _target(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        _check_dir_writable(target.parent, what, create=True, file=path)
        return
    except OSError as exc:
        raise UsageError(f"cannot use {str(path)!r} for {what}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{what} {str(path)!r} is a directory", hint="give a file name")
    if stat.S_ISREG(mode):
        _check_dir_writable(target.parent, what, create=False, file=path)
    elif not os.access(target, os.W_OK):
        raise UsageError(f"cannot write {what} {str(path)!r}: permission denied")


def check_output_dir(path: Path, what: str) -> None:
    """Before a run: ``path`` is a folder (made if missing) where files can be created."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {str(path)!r} exists and is not a directory", hint="give a folder")
    _check_dir_writable(path, what, create=True)


def _check_dir_writable(folder: Path, what: str, *, create: bool, file: Path | None = None) -> None:
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        # os.access says yes to root on a read-only mount: create and remove a real file instead
        fd, tmp = tempfile.mkstemp(prefix=".pfdiag-check.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        where = f"{str(file)!r}" if file is not None else f"into {str(folder)!r}"
        raise UsageError(f"cannot write {what} {where}: {exc.strerror}") from None


def write_text(
    path: Path,
    text: str | bytes,
    *,
    what: str = "file",
    mode: int = FILE_MODE,
    symlinks: bool = True,
    error: type[DiagError] = ReportError,
) -> None:
    """Write ``text`` (UTF-8; bytes as they are, e.g. a PNG) to ``path``: atomically for a regular file
    or a new path, in place otherwise.

    ``mode`` is the new file's (``FILE_MODE`` unless another program must read it, e.g. node_exporter).
    ``symlinks`` False refuses a symlink instead of writing its target (unit files: a link planted in a
    unit folder must not make root write elsewhere); the rename replaces a link made meanwhile, never
    its target. A device or FIFO is never replaced; ``error`` (``ReportError`` by default) names the path.
    """
    write_chunks(path, [text], what=what, mode=mode, symlinks=symlinks, error=error)


def write_chunks(
    path: Path,
    chunks: Iterable[str | bytes],
    *,
    what: str = "file",
    mode: int = FILE_MODE,
    symlinks: bool = True,
    error: type[DiagError] = ReportError,
) -> None:
    """``write_text`` of the text the ``chunks`` make, written as they come: an export of 100,000 hosts
    is never one string in memory. The same refusals, the same atomic rename."""
    data = (c.encode("utf-8") if isinstance(c, str) else c for c in chunks)
    if not symlinks and path.is_symlink():
        raise error(
            f"cannot write {what} {str(path)!r}: it is a symbolic link (to {os.readlink(path)!r})",
            hint="pfdiag does not write through a link here: remove it, or write the file where it points",
        )
    target = _target(path) if symlinks else path
    try:
        found: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise error(f"cannot write {what} {str(path)!r}: {exc.strerror}") from None
    if found is not None and stat.S_ISDIR(found):
        raise error(f"cannot write {what} {str(path)!r}: it is a directory")
    try:
        if found is None or stat.S_ISREG(found):
            _replace(target, data, mode)
        else:
            _write_in_place(target, data, nofollow=not symlinks)
    except OSError as exc:
        reason = "the device is full" if exc.errno == errno.ENOSPC else exc.strerror
        raise error(f"cannot write {what} {str(path)!r}: {reason}") from None


def _replace(path: Path, data: Iterable[bytes], mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # the name cut so that the temp name fits NAME_MAX (255) when the file's own name does
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in data:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_in_place(path: Path, data: Iterable[bytes], *, nofollow: bool = False) -> None:
    flags = os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        # O_NONBLOCK so a FIFO without a reader is an error (ENXIO), not a hang
        fd = os.open(path, flags | (getattr(os, "O_NOFOLLOW", 0) if nofollow else 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(exc.errno, "nothing is reading from this FIFO") from None
        raise
    with os.fdopen(fd, "wb") as handle:
        os.set_blocking(fd, True)
        for chunk in data:
            handle.write(chunk)
        handle.flush()


def open_append_new(path: Path, *, keep: bool = False) -> int:
    """A new (or truncated; with ``keep``, appended to) file for appending lines, mode ``FILE_MODE``;
    returns its descriptor."""
    how = os.O_APPEND if keep else os.O_TRUNC
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | how | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None, so it is valid JSON (null).

    >>> finite({"threshold": float("nan"), "v": [1.5, float("inf")]})
    {'threshold': None, 'v': [1.5, None]}
    """
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def json_text(data: Any, *, indent: int | None = None, sort_keys: bool = False, compact: bool = False) -> str:
    """JSON that other tools can read: NaN/inf as null (``allow_nan=False`` proves none is left).

    Most data holds no NaN, and the encoder finds one for free: only then is the tree copied
    with ``finite`` (a copy of a host's result cost more than encoding it).

    >>> json_text({"a": [1.5, float("nan")]}), json_text({"a": 1})
    ('{"a": [1.5, null]}', '{"a": 1}')
    """
    separators = (",", ":") if compact else None  # compact: a run log's lines, ~8 % smaller
    try:
        return json.dumps(
            data, indent=indent, sort_keys=sort_keys, default=str, allow_nan=False, separators=separators
        )
    except ValueError:  # a NaN or infinity somewhere (or a circular reference, which finite cannot fix)
        return json.dumps(
            finite(data),
            indent=indent,
            sort_keys=sort_keys,
            default=str,
            allow_nan=False,
            separators=separators,
        )
