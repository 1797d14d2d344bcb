"""Host key verification for the SSH transport: known_hosts files in, a paramiko policy out.

Fabric accepts any host key out of the box (its ``Connection`` installs paramiko's
``AutoAddPolicy``) and reads no known_hosts file, so the SSH transport asks this module instead:
``known_keys`` returns the keys recorded for ``[host]:port`` in the given files (hashed entries and
``[host]:port`` entries included: paramiko's ``HostKeys`` parses both), and ``HostKeyPolicy`` decides
what an unknown key means (``strict``: refuse; ``accept-new``: append it to the user known_hosts).
A changed key never reaches the policy: paramiko raises ``BadHostKeyException`` first.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import paramiko

from diag.errors import TransportError

POLICIES = ("strict", "accept-new")

# Parsed files shared by every transport in the process: a fleet of 200 hosts reads each file once.
# Keyed by path; the stat signature says when a file changed on disk and must be parsed again.
_parsed: dict[str, tuple[tuple[int, int], paramiko.HostKeys]] = {}
_parsed_lock = threading.Lock()
# Appends to a known_hosts file by concurrent hosts are serialised in-process (lock) and across
# processes (flock), so two new hosts never interleave half lines.
_record_lock = threading.Lock()


class UnknownHostKey(paramiko.SSHException):
    """The server's key is in none of the known_hosts files read (strict policy)."""

    def __init__(self, name: str, key: paramiko.PKey, files: Sequence[str]) -> None:
        self.name = name
        self.key = key
        self.files = tuple(files)
        super().__init__(f"unknown host key {key.get_name()} {key.fingerprint} for {name}")


def host_key_name(hostname: str, port: int) -> str:
    """The name known_hosts uses: ``host`` on port 22, ``[host]:port`` elsewhere.

    >>> host_key_name("127.0.0.10", 2222), host_key_name("db1", 22)
    ('[127.0.0.10]:2222', 'db1')
    """
    return hostname if port == 22 else f"[{hostname}]:{port}"


def _load(path: str) -> paramiko.HostKeys | None:
    """One known_hosts file, parsed once per content change; None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    signature = (st.st_mtime_ns, st.st_size)
    with _parsed_lock:
        cached = _parsed.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
    keys = paramiko.HostKeys()
    try:
        keys.load(path)
    except OSError:
        return None
    with _parsed_lock:
        _parsed[path] = (signature, keys)
    return keys


def known_keys(name: str, files: Sequence[str]) -> dict[str, paramiko.PKey]:
    """Key type -> key recorded for ``name`` across ``files``; the first file naming a type wins."""
    found: dict[str, paramiko.PKey] = {}
    for path in files:
        keys = _load(path)
        entry = keys.lookup(name) if keys is not None else None
        if entry:
            for key_type, key in entry.items():
                found.setdefault(key_type, key)
    return found


def record_host_key(path: str, name: str, key: paramiko.PKey, *, hashed: bool) -> None:
    """Append ``name key`` to the known_hosts file at ``path`` (creating ``~/.ssh`` 0700).

    Re-reads the file under the lock: when another thread recorded this host meanwhile, the same
    key is not written twice and a different key is a changed key.
    """
    target = Path(path)
    with _record_lock:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with target.open("a", encoding="ascii") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                current = paramiko.HostKeys()
                current.load(str(target))
                existing = current.lookup(name)
                if existing and key.get_name() in existing:
                    if existing[key.get_name()] != key:
                        raise paramiko.BadHostKeyException(name, key, existing[key.get_name()])
                    return
                written = paramiko.HostKeys.hash_host(name) if hashed else name
                handle.write(f"{written} {key.get_name()} {key.get_base64()}\n")
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    with _parsed_lock:
        _parsed.pop(str(target), None)


class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """What an unknown host key means: refuse it (``strict``) or record it (``accept-new``). Never prompts."""

    def __init__(self, policy: str, *, files_read: Sequence[str], record_to: str, hashed: bool) -> None:
        if policy not in POLICIES:
            raise TransportError(
                f"host key policy {policy!r} is not one of {', '.join(POLICIES)}",
                state="failed",
                hint="use --host-key-policy strict (default) or accept-new",
            )
        self.policy = policy
        self.files_read = tuple(files_read)
        self.record_to = record_to
        self.hashed = hashed

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        # paramiko passes the known_hosts name here ([host]:port off port 22).
        if self.policy == "accept-new":
            record_host_key(self.record_to, hostname, key, hashed=self.hashed)
            return
        raise UnknownHostKey(hostname, key, self.files_read)


def unknown_key_error(
    exc: UnknownHostKey, where: str, hostname: str, port: int, record_to: str
) -> TransportError:
    """``hostkey-unknown``: the fingerprint, the files read, and how to trust the key."""
    return TransportError(
        f"unknown host key {exc.key.get_name()} {exc.key.fingerprint} for {exc.name}"
        f" (not in {', '.join(exc.files) or 'any known_hosts file'})",
        state="hostkey-unknown",
        where=where,
        hint=f"check the fingerprint, then trust it: ssh-keyscan -p {port} {hostname} >> {record_to}"
        "  (or rerun with --host-key-policy accept-new)",
    )


def changed_key_error(exc: paramiko.BadHostKeyException, where: str, name: str) -> TransportError:
    """``hostkey-changed``: both fingerprints; never accepted, whatever the policy."""
    return TransportError(
        f"host key for {name} CHANGED: server offers {exc.key.get_name()} {exc.key.fingerprint},"
        f" known_hosts has {exc.expected_key.fingerprint}",
        state="hostkey-changed",
        where=where,
        hint=f"if the host was reinstalled, remove the old key (ssh-keygen -R '{name}')"
        " and trust the new one; otherwise this may be an attack",
    )
