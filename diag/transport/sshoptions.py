"""asyncssh's client options, built once per configuration, and a login started with them on pfdiag's wire.

``asyncssh.connect`` builds an ``SSHClientConnectionOptions`` for every connection, in the loop's
executor thread: ~0.4 ms of CPU a host, and two hand-offs between that thread and the loop, although
a fleet's hosts mostly share everything in it (the user, the keys, the agent, the ciphers, the types
of their recorded host keys). Here it is built once per such configuration (``client_options``) and
copied for a host with what is the host's own (``host_options``: its address and port, the client
object that checks its host key); ``open_connection`` then starts asyncssh's connection on the wire
pfdiag opened (``sshlogin``'s TCP socket or ProxyCommand, or a channel through the jump host), as
``asyncssh.connect`` does once it has its options. In: a hop's settings. Out: a logged-in
``SSHClientConnection``.

asyncssh internals this relies on (2.14 to 2.24; the suite runs 2.24.1, and pyproject.toml keeps
asyncssh below 2.25 until a newer one is checked): ``SSHClientConnection(loop, options, wait="auth")``
resolves ``options.waiter`` when the login is done (or fails: its exception), and reads the host,
port and client factory (``protocol_factory``) from its options; the connection's ``_auth_methods``
are the methods it tries next, and its ``_auth`` (the method being tried) holds the key a publickey
query names in ``_keypair``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, cast

import asyncssh
import paramiko
from asyncssh.constants import MSG_IGNORE
from asyncssh.packet import Boolean, SSHPacket, SSHPacketLogger, String

from diag.transport.sshkeys import default_key_stamps

# AES-GCM first: asyncssh's chacha20-poly1305 (its default) builds two cipher contexts in Python for
# every packet, ~1 s of the loop's 6 s for 200 hosts' logins and probes; GCM keeps one per direction.
ENCRYPTION_ALGS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
)
_EMPTY_IGNORE = (String(b""),)  # the arguments of asyncssh's padding MSG_IGNORE (an empty string)
_QUERY = Boolean(False)  # a publickey request without a signature: "would you take this key?"
MAX_CACHED_OPTIONS = 64  # distinct configurations (user, keys, host key types) kept; more: start over

_ASYNCSSH_LOG = logging.getLogger("asyncssh")

_options: dict[tuple[object, ...], tuple[tuple[object, ...], asyncssh.SSHClientConnectionOptions]] = {}
_sig_algs: dict[str, tuple[str, ...]] = {}
_lock = threading.Lock()


def host_key_algs(known: Mapping[str, paramiko.PKey]) -> list[str]:
    """The recorded key types first, then the rest: paramiko's order, so a host known by its RSA key
    is not asked for an Ed25519 key it also has (which would then be unknown)."""
    first = [alg for key_type, key in known.items() for alg in _type_sig_algs(key_type, key)]
    return first + [
        alg.decode() for alg in asyncssh.public_key.get_default_public_key_algs() if alg.decode() not in first
    ]


def _type_sig_algs(key_type: str, key: paramiko.PKey) -> tuple[str, ...]:
    """The signature algorithms of a key type (the same for every key of it: the type names the curve)."""
    found = _sig_algs.get(key_type)
    if found is None:
        imported = asyncssh.import_public_key(f"{key.get_name()} {key.get_base64()}")
        found = _sig_algs[key_type] = tuple(alg.decode() for alg in imported.sig_algorithms)
    return found


def client_options(
    user: str,
    client_keys: Sequence[object] | None,
    *,
    agent: bool,
    known: Mapping[str, paramiko.PKey],
) -> asyncssh.SSHClientConnectionOptions:
    """The options every login with this user, these keys (None: asyncssh's ``~/.ssh/id_*``), this
    agent setting and these recorded host key types shares; built on first use, outside the loop.

    asyncssh trusts no host key itself (an empty known_hosts): the ``SSHClient`` of each host
    (``sshlogin``) compares the server's key with the host's recorded ones. Default keys are read by
    asyncssh when the options are built, so their files' stamps are part of the configuration: a key
    or certificate renewed in ``~/.ssh`` is read again, as pfdiag's own key cache does.
    """
    keys = None if client_keys is None else tuple(client_keys)
    config = (
        user,
        None if keys is None else tuple(id(key) for key in keys),  # the cache below keeps them alive
        default_key_stamps() if keys is None else (),
        os.environ.get("SSH_AUTH_SOCK") if agent else None,
        tuple(known),
    )
    with _lock:
        cached = _options.get(config)
    if cached is not None:
        return cached[1]
    options = asyncssh.SSHClientConnectionOptions(
        config=None,
        username=user,
        known_hosts=([], [], []),
        server_host_key_algs=host_key_algs(known),
        encryption_algs=ENCRYPTION_ALGS,
        x509_trusted_certs=None,
        client_keys=() if keys is None else (list(keys) or None),
        agent_path=() if agent else None,
        preferred_auth="publickey",
        gss_host=None,
        gss_auth=False,
        gss_kex=False,
        host_based_auth=False,
        kbdint_auth=False,
        password_auth=False,
        connect_timeout=None,
        keepalive_interval=0,
    )
    with _lock:
        if len(_options) >= MAX_CACHED_OPTIONS:
            _options.clear()
        _options[config] = (keys or (), options)
    return options


def host_options(
    shared: asyncssh.SSHClientConnectionOptions,
    hostname: str,
    port: int,
    client: Callable[[], asyncssh.SSHClient],
) -> asyncssh.SSHClientConnectionOptions:
    """``shared`` for one host: its address and port, and the factory of its ``SSHClient``."""
    options = copy.copy(shared)  # asyncssh never changes an options object; it reads it
    options.orig_host = options.host = hostname
    options.port = port
    options.protocol_factory = client
    return options


class _Connection(asyncssh.SSHClientConnection):
    """asyncssh's client connection, whose packets' debug lines are made only when they can be logged,
    which sends no padding ``MSG_IGNORE`` before its packets, and which logs in with signed publickey
    requests from the start.

    asyncssh builds each packet's line (its payload copied, its name, its length in words) before its
    logger looks at the level: ~28 packets a login, ~4 % of a login's CPU, for lines that asyncssh's
    default level drops. With ``asyncssh`` logging at DEBUG they are made and logged as before.

    asyncssh also sends an empty ``MSG_IGNORE`` before every encrypted packet past the key exchange,
    the old countermeasure to the CBC-mode plaintext recovery (CVE-2008-5161): 7 of the 16 encrypted
    packets a login and probe send, each written by a syscall of its own and decrypted by the host.
    pfdiag offers no CBC cipher (``ENCRYPTION_ALGS``: GCM, ChaCha20-Poly1305, CTR), against which it
    defends nothing, and OpenSSH's client sends none; so neither does this one.

    asyncssh's login asks the server twice before it signs: a ``none`` request (to learn the methods
    it takes) and, for each key, a publickey request without a signature (would it take this key?).
    pfdiag offers publickey alone, and RFC 4252 (section 7) lets a client send the signed request
    at once: two round trips and four packets a login fewer, here and on the host. A key the server
    does not take fails as its query would have, and the next key is tried, as before.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._auth_methods = [b"publickey"]  # asyncssh starts with b"none"

    async def send_userauth_request(
        self, method: bytes, *args: bytes, key: object = None, trivial: bool = True
    ) -> None:
        keypair = getattr(self._auth, "_keypair", None)
        if method == b"publickey" and key is None and args[:1] == (_QUERY,) and keypair is not None:
            signed = (Boolean(True), *args[1:])
            try:
                await super().send_userauth_request(method, *signed, key=keypair, trivial=False)
            except ValueError:  # this key cannot sign (an agent refused it): the next key, as asyncssh does
                self.try_next_auth()
            return
        await super().send_userauth_request(method, *args, key=key, trivial=trivial)  # type: ignore[arg-type]

    def send_packet(self, pkttype: int, *args: bytes, handler: SSHPacketLogger | None = None) -> None:
        if pkttype == MSG_IGNORE and args == _EMPTY_IGNORE:
            return
        super().send_packet(pkttype, *args, handler=handler)

    def log_sent_packet(
        self, pkttype: int, pktid: int | None, packet: bytes | SSHPacket, note: str = ""
    ) -> None:
        if _ASYNCSSH_LOG.isEnabledFor(logging.DEBUG):
            super().log_sent_packet(pkttype, pktid, packet, note)

    def log_received_packet(
        self, pkttype: int, pktid: int | None, packet: bytes | SSHPacket, note: str = ""
    ) -> None:
        if _ASYNCSSH_LOG.isEnabledFor(logging.DEBUG):
            super().log_received_packet(pkttype, pktid, packet, note)


class Wire(Protocol):
    """A wire a login runs over directly (``sshlogin``'s TCP socket or ProxyCommand)."""

    async def create_connection(
        self, session_factory: Callable[[], asyncssh.SSHClientConnection], remote_host: str, remote_port: int
    ) -> tuple[object, asyncssh.SSHClientConnection]: ...


async def open_connection(
    options: asyncssh.SSHClientConnectionOptions, tunnel: Wire | asyncssh.SSHClientConnection
) -> asyncssh.SSHClientConnection:
    """Log in over ``tunnel`` (a wire, or the jump host's connection: a channel to this hop) with
    ``options`` (``host_options``), as ``asyncssh.connect`` does once it has built its options. A login
    that fails or is cancelled closes its connection."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    options.waiter = waiter

    def connection() -> asyncssh.SSHClientConnection:
        return _Connection(loop, options, wait="auth")

    if isinstance(tunnel, asyncssh.SSHClientConnection):  # the connection is the channel's session
        factory = cast("Callable[[], asyncssh.SSHTCPSession[bytes]]", connection)
        _, session = await tunnel.create_connection(factory, options.host, options.port)
        conn = cast(asyncssh.SSHClientConnection, session)
    else:
        _, conn = await tunnel.create_connection(connection, options.host, options.port)
    conn.set_extra_info(host=options.host, port=options.port)
    try:
        await waiter
    except BaseException:
        conn.abort()
        await conn.wait_closed()
        raise
    return conn
