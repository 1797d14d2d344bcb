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
import hmac
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import paramiko
from paramiko.hostkeys import HostKeyEntry

from diag.shared.errors import TransportError

POLICIES = ("strict", "accept-new")

# Parsed files shared by every transport in the process: a fleet of 200 hosts reads each file once.
# Keyed by path; the stat signature says when a file changed on disk and must be parsed again.
_parsed: dict[str, tuple[tuple[int, int], _IndexedKeys]] = {}
_parsed_lock = threading.Lock()
_parse_lock = threading.Lock()
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


class _IndexedKeys:
    """A parsed known_hosts file with its plain host names in a dict.

    ``HostKeys.lookup`` scans every entry (and hashes the name against every hashed one), so a fleet
    of N hosts looking themselves up in an N-line file costs N^2 comparisons: 1,000 hosts, 8 M. Here a
    plain name is one dict lookup; only hashed entries (``|1|salt|hash``) are still tried one by one.
    Matches come back in file order, so the first entry of a key type wins, as in ``HostKeys``.
    """

    def __init__(self, entries: Sequence[HostKeyEntry]) -> None:
        self.plain: dict[str, list[tuple[int, HostKeyEntry]]] = {}
        self.hashed: list[tuple[int, HostKeyEntry]] = []
        for position, entry in enumerate(entries):
            names = entry.hostnames
            if any(h.startswith("|1|") for h in names):
                self.hashed.append((position, entry))
            for name in {h for h in names if not h.startswith("|1|")}:
                self.plain.setdefault(name, []).append((position, entry))

    def lookup(self, name: str) -> dict[str, paramiko.PKey]:
        """Key type -> key for ``name``, the first entry of each type in file order."""
        matches = list(self.plain.get(name, ()))
        seen = {position for position, _ in matches}
        matches += [
            (position, entry)
            for position, entry in self.hashed
            if position not in seen and _hash_matches(name, entry)
        ]
        found: dict[str, paramiko.PKey] = {}
        for _, entry in sorted(matches, key=lambda match: match[0]):
            if entry.key is not None:
                found.setdefault(entry.key.get_name(), entry.key)
        return found


def _hash_matches(name: str, entry: HostKeyEntry) -> bool:
    return any(
        h.startswith("|1|") and hmac.compare_digest(paramiko.HostKeys.hash_host(name, h), h)
        for h in entry.hostnames
    )


def _entries(path: str) -> list[HostKeyEntry]:
    """The entries of a known_hosts file, as ``HostKeys.load`` reads them (bad lines skipped).

    Not ``HostKeys.load`` itself: it checks every line against all the lines before it (N^2 again).
    """
    entries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                entry = HostKeyEntry.from_line(line, number)
            except paramiko.SSHException:
                continue
            if entry is not None:
                entries.append(entry)
    return entries


def _load(path: str) -> _IndexedKeys | None:
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
    # A fleet's hosts all start at once and would all miss the cache together (1,000 hosts parsing
    # a 1,000-line file: 1 M entries); one parse at a time, and the others find its result.
    with _parse_lock:
        with _parsed_lock:
            cached = _parsed.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            indexed = _IndexedKeys(_entries(path))
        except OSError:
            return None
        with _parsed_lock:
            _parsed[path] = (signature, indexed)
    return indexed


def known_keys(name: str, files: Sequence[str]) -> dict[str, paramiko.PKey]:
    """Key type -> key recorded for ``name`` across ``files``; the first file naming a type wins."""
    found: dict[str, paramiko.PKey] = {}
    for path in files:
        keys = _load(path)
        for key_type, key in (keys.lookup(name) if keys is not None else {}).items():
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
        self.unknown_key(hostname, key)

    def unknown_key(self, name: str, key: paramiko.PKey) -> None:
        """Record ``key`` for ``name`` (accept-new) or raise ``UnknownHostKey`` (strict); whichever
        library did the handshake (the asyncssh transport calls this directly)."""
        if self.policy == "accept-new":
            record_host_key(self.record_to, name, key, hashed=self.hashed)
            return
        raise UnknownHostKey(name, key, self.files_read)


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
