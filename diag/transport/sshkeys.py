"""Private keys for SSH logins, read once per file and shared by every host that uses it.

paramiko reads and parses the key file on every connect, trying RSA, ECDSA and Ed25519 in turn,
~1 ms of controller CPU per host; a fleet's hosts mostly log in with one key. In: a key file path.
Out: the loaded ``paramiko.PKey`` or asyncssh ``SSHKeyPair`` (with its ``-cert.pub`` certificate, if
one is beside it), or None when the file cannot be loaded without help (missing, encrypted, of an
unknown type): paramiko is then given the path as before and says what is wrong. A key or
certificate that changes (short-lived certificates are renewed beside the same key) is read again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar, cast

import paramiko

MAX_CACHED_KEYS = 256
# The keys asyncssh offers when none is configured (its ``_DEFAULT_KEY_FILES``), each with its certificate.
DEFAULT_KEYS = ("id_ed25519_sk", "id_ecdsa_sk", "id_ed448", "id_ed25519", "id_ecdsa", "id_rsa", "id_dsa")

_keys: dict[tuple[str, str, tuple[int, int], tuple[int, int] | None], object] = {}
T = TypeVar("T")
_lock = threading.Lock()


def file_stamp(path: str) -> tuple[int, int] | None:
    """(mtime, size) of a file, None when absent: a renewed certificate beside the key is read again."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def default_key_stamps() -> tuple[tuple[int, int] | None, ...]:
    """The stamps of ``~/.ssh``'s default keys and their certificates: what asyncssh reads when no key
    is configured changed when these did."""
    folder = os.path.expanduser("~/.ssh")
    return tuple(
        file_stamp(os.path.join(folder, name + suffix))
        for name in DEFAULT_KEYS
        for suffix in ("", "-cert.pub")
    )


def loaded_key(path: str) -> paramiko.PKey | None:
    """The key in ``path``, parsed once per version of it and its certificate; None if paramiko must
    try it itself."""
    return _cached(path, "paramiko", paramiko.PKey.from_path)


def loaded_keypair(path: str) -> object | None:
    """The same for asyncssh: an ``SSHKeyPair`` (with the ``-cert.pub`` beside the key, if any), or
    None when asyncssh cannot load it without help (missing, encrypted, of an unknown type)."""
    import asyncssh  # only the asyncssh transport asks for these

    def load(name: str) -> object:
        pairs = asyncssh.load_keypairs([name])
        if not pairs:
            raise ValueError(f"no key in {name}")
        return pairs[0]

    return _cached(path, "asyncssh", load)


def _cached(path: str, library: str, load: Callable[[str], T]) -> T | None:
    stamp = file_stamp(path)
    if stamp is None:
        return None
    cache_key = (library, path, stamp, file_stamp(path + "-cert.pub"))
    with _lock:
        cached = _keys.get(cache_key)
    if cached is not None:
        return cast(T, cached)
    try:
        key = load(path)
    except Exception:  # encrypted, unknown type, unreadable: the transport reports it at connect
        return None
    with _lock:
        if len(_keys) >= MAX_CACHED_KEYS:
            _keys.clear()
        _keys[cache_key] = key
    return key
