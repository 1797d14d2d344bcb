"""Private keys for SSH logins, read once per file and shared by every host that uses it.

paramiko reads and parses the key file on every connect, trying RSA, ECDSA and Ed25519 in turn,
~1 ms of controller CPU per host; a fleet's hosts mostly log in with one key. In: a key file path.
Out: the loaded ``paramiko.PKey`` (with its ``-cert.pub`` certificate, if one is beside it), or None
when the file cannot be loaded without help (missing, encrypted, of an unknown type): paramiko is
then given the path as before and says what is wrong. A key or certificate that changes (short-lived
certificates are renewed beside the same key) is read again.
"""

from __future__ import annotations

import os
import threading

import paramiko

MAX_CACHED_KEYS = 256

_keys: dict[tuple[str, tuple[int, int], tuple[int, int] | None], paramiko.PKey] = {}
_lock = threading.Lock()


def _stamp(path: str) -> tuple[int, int] | None:
    """(mtime, size) of a file, None when absent: a renewed certificate beside the key is read again."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def loaded_key(path: str) -> paramiko.PKey | None:
    """The key in ``path``, parsed once per version of it and its certificate; None if paramiko must
    try it itself."""
    stamp = _stamp(path)
    if stamp is None:
        return None
    cache_key = (path, stamp, _stamp(path + "-cert.pub"))
    with _lock:
        cached = _keys.get(cache_key)
    if cached is not None:
        return cached
    try:
        key = paramiko.PKey.from_path(path)
    except Exception:  # encrypted, unknown type, unreadable: paramiko reports it at connect
        return None
    with _lock:
        if len(_keys) >= MAX_CACHED_KEYS:
            _keys.clear()
        _keys[cache_key] = key
    return key
