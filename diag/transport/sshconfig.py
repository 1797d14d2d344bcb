"""Who to log in as, with which keys, checked against which known_hosts: Ansible rules over ssh_config.

In: an inventory host's vars, the CLI ``ConnectOptions`` and the ``ssh_config`` entry looked up for
the host (a paramiko ``SSHConfigDict``-like mapping). Out: an ``SSHTarget`` and the known_hosts
files to read and to record into. Precedence follows Ansible's ssh plugin, which passes inventory
vars and CLI flags to ``ssh`` as ``-o`` options that beat ``~/.ssh/config``:

- user: ``ansible_user`` (or ``ansible_ssh_user``) > CLI ``-u`` > ssh_config ``User`` > local user
- port: ``ansible_port`` (or ``ansible_ssh_port``) > ssh_config ``Port`` > 22
- keys: ``ansible_ssh_private_key_file`` (or ``ansible_private_key_file``) > CLI ``--private-key``,
  then ssh_config ``IdentityFile``; OpenSSH's default ``~/.ssh/id_*`` only when none of these is set
- the name matched against ssh_config ``Host`` patterns is ``ansible_host`` when set, else the
  inventory name (as ``ssh`` sees it: Ansible calls ``ssh ansible_host``)
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import paramiko

from diag.shared.errors import TransportError
from diag.transport.base import ConnectOptions
from diag.transport.sshkeys import file_stamp

USER_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")


@dataclass(frozen=True, slots=True)
class SSHTarget:
    """The explicit connection settings for one host; ``None`` lets ssh_config (then defaults) decide."""

    name: str  # inventory name, for messages
    lookup_name: str  # matched against ssh_config Host patterns, connected to unless HostName says otherwise
    user: str | None
    port: int | None
    key_files: tuple[str, ...]  # explicit keys (inventory, then CLI); ssh_config IdentityFile is added later


def _first(hostvars: Mapping[str, object], *names: str) -> str | None:
    for name in names:
        value = hostvars.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def resolve_target(host: str, hostvars: Mapping[str, object], options: ConnectOptions) -> SSHTarget:
    """The explicit settings for ``host`` from its vars and the CLI (see the module docstring)."""
    port_text = _first(hostvars, "ansible_port", "ansible_ssh_port")
    try:
        port = int(port_text) if port_text is not None else None
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(port)
    except ValueError:
        raise TransportError(
            f"ansible_port {port_text!r} is not a port number",
            state="failed",
            where=host,
            hint="set ansible_port to an integer from 1 to 65535, such as 22",
        ) from None
    key = _first(hostvars, "ansible_ssh_private_key_file", "ansible_private_key_file") or options.private_key
    return SSHTarget(
        name=host,
        lookup_name=_first(hostvars, "ansible_host", "ansible_ssh_host") or host,
        user=_first(hostvars, "ansible_user", "ansible_ssh_user") or options.user,
        port=port,
        key_files=(os.path.expanduser(key),) if key else (),
    )


def identity_files(explicit: Sequence[str], entry: Mapping[str, object]) -> tuple[list[str], bool]:
    """Key files to offer (explicit first, then ssh_config ``IdentityFile``), and whether to fall back
    to ``~/.ssh/id_*`` (only when no key is configured at all, as OpenSSH does)."""
    configured = entry.get("identityfile") or []
    if isinstance(configured, str):
        configured = [configured]
    files = list(explicit)
    for path in configured if isinstance(configured, list) else []:
        expanded = os.path.expanduser(str(path))
        if expanded not in files:
            files.append(expanded)
    return files, not files


def agent_allowed(entry: Mapping[str, object]) -> bool:
    """Ask ssh-agent only when one runs and ssh_config does not say ``IdentitiesOnly yes``."""
    return bool(os.environ.get("SSH_AUTH_SOCK")) and str(entry.get("identitiesonly", "no")).lower() != "yes"


def known_hosts_files(entry: Mapping[str, object], options: ConnectOptions) -> tuple[list[str], str]:
    """(files to read, file to record new keys into), like OpenSSH plus ``options.known_hosts``.

    ``UserKnownHostsFile`` / ``GlobalKnownHostsFile`` from ssh_config replace the defaults; new keys
    go to the first user file (``~/.ssh/known_hosts`` by default), as ``ssh`` does.
    """
    user = str(entry.get("userknownhostsfile", "")).split() or list(USER_KNOWN_HOSTS)
    system = str(entry.get("globalknownhostsfile", "")).split() or list(GLOBAL_KNOWN_HOSTS)
    files: list[str] = []
    for path in [*user, *system, *options.known_hosts]:
        expanded = os.path.expanduser(path)
        if expanded not in files and expanded != "/dev/null":
            files.append(expanded)
    return files, os.path.expanduser(user[0])


def hash_known_hosts(entry: Mapping[str, object]) -> bool:
    """Whether recorded names are hashed (ssh_config ``HashKnownHosts``; Debian's default is yes)."""
    return str(entry.get("hashknownhosts", "no")).lower() == "yes"


@dataclass(frozen=True, slots=True)
class HopFiles:
    """A hop's known_hosts files (read, recorded into, hashed), key files and agent: what its ssh_config
    entry and the CLI say, the same for every host that shares those settings."""

    read_files: tuple[str, ...]
    record_to: str
    hashed: bool
    key_files: tuple[str, ...]
    default_keys: bool  # no key configured: ~/.ssh/id_*
    agent: bool


# The entry's settings HopFiles reads; with the CLI options, the explicit keys and the environment
# ~ and the agent come from, they decide it.
_FILE_SETTINGS = (
    "identityfile",
    "identitiesonly",
    "userknownhostsfile",
    "globalknownhostsfile",
    "hashknownhosts",
)
MAX_CACHED_HOP_FILES = 256
_hop_files: dict[tuple[object, ...], HopFiles] = {}
_hop_files_lock = threading.Lock()


def hop_files(entry: Mapping[str, object], explicit_keys: Sequence[str], options: ConnectOptions) -> HopFiles:
    """``known_hosts_files``, ``hash_known_hosts``, ``identity_files`` and ``agent_allowed`` for a hop,
    worked out once per distinct configuration (a fleet's hosts mostly share one: ~0.1 ms a host of
    path expansion and environment look-ups)."""
    key = (
        options,
        tuple(explicit_keys),
        tuple(repr(entry.get(name)) for name in _FILE_SETTINGS),
        os.environ.get("HOME"),
        os.environ.get("SSH_AUTH_SOCK"),
    )
    with _hop_files_lock:
        found = _hop_files.get(key)
    if found is None:
        read_files, record_to = known_hosts_files(entry, options)
        key_files, default_keys = identity_files(explicit_keys, entry)
        found = HopFiles(
            tuple(read_files),
            record_to,
            hash_known_hosts(entry),
            tuple(key_files),
            default_keys,
            agent_allowed(entry),
        )
        with _hop_files_lock:
            if len(_hop_files) >= MAX_CACHED_HOP_FILES:
                _hop_files.clear()
            _hop_files[key] = found
    return found


# -- ssh_config files and ProxyJump hops, for the asyncssh transport (Fabric reads its own) -------------

_configs: dict[tuple[str | None, tuple[tuple[int, int] | None, ...]], paramiko.SSHConfig] = {}
_configs_lock = threading.Lock()
DEFAULT_CONFIGS = ("~/.ssh/config", "/etc/ssh/ssh_config")  # the user's first, as ssh and Fabric read them


def load_ssh_config(path: str | None) -> paramiko.SSHConfig:
    """The ssh_config at ``path`` alone (like ``ssh -F``), or ~/.ssh/config then /etc/ssh/ssh_config;
    parsed once per content change and shared by every host (a fleet's hosts all read the same file)."""
    paths = (os.path.expanduser(path),) if path else tuple(os.path.expanduser(p) for p in DEFAULT_CONFIGS)
    key = (path, tuple(file_stamp(p) for p in paths))
    if path and key[1][0] is None:
        raise TransportError(
            f"ssh_config file {path} cannot be read", state="failed", hint="check --ssh-config"
        )
    with _configs_lock:
        config = _configs.get(key)
        if config is None:
            config = paramiko.SSHConfig()
            for found in (p for p, stamp in zip(paths, key[1], strict=True) if stamp is not None):
                try:
                    with open(found, encoding="utf-8") as handle:
                        config.parse(handle)
                except (OSError, UnicodeDecodeError, ValueError, paramiko.SSHException) as exc:
                    raise TransportError(
                        f"cannot load ssh_config {found}: {exc}", state="failed", hint="check --ssh-config"
                    ) from None
            _configs[key] = config
        return config


@dataclass(frozen=True, slots=True)
class SSHHop:
    """One SSH login on the way to a host (a ProxyJump hop, or the host itself): where and as whom,
    with the ssh_config entry that applies to it (IdentityFile, known_hosts files, HashKnownHosts)."""

    hostname: str
    port: int
    user: str
    entry: Mapping[str, object]
    proxy_command: tuple[str, ...] = ()  # ssh_config ProxyCommand, split into words: () connects directly

    @property
    def address(self) -> str:
        return f"{self.hostname}:{self.port}"


def resolve_hops(target: SSHTarget, config: paramiko.SSHConfig) -> tuple[SSHHop, ...]:
    """The logins that reach ``target``, the first ProxyJump hop first and the host itself last.

    Each hop is ``[user@]host[:port]``, looked up in ssh_config like the host (its HostName, User,
    Port and keys apply); a hop's own ProxyJump or ProxyCommand is not followed. The host's
    ProxyCommand, when ssh_config gives it before any ProxyJump, replaces its TCP connect.

    >>> config = paramiko.SSHConfig.from_text("Host db\\n HostName 10.0.0.5\\n ProxyJump ops@bastion:2222")
    >>> [(h.user, h.hostname, h.port) for h in resolve_hops(SSHTarget("db", "db", "me", None, ()), config)]
    [('ops', 'bastion', 2222), ('me', '10.0.0.5', 22)]
    """
    entry = config.lookup(target.lookup_name)
    try:
        host = _hop(target.lookup_name, target.user, target.port, entry)
        jumps, command = proxy_setting(entry)
        hops = [_jump(spec.strip(), config) for spec in jumps.split(",")] if jumps is not None else []
        host = dataclasses.replace(host, proxy_command=command)
    except ValueError as exc:  # a Port, ProxyJump or ProxyCommand that does not parse
        raise TransportError(
            f"ssh_config settings for {target.lookup_name} are invalid: {exc}",
            state="failed",
            where=target.name,
            hint="check the Host entry in the ssh_config file",
        ) from None
    return (*hops, host)


def proxy_setting(entry: Mapping[str, object]) -> tuple[str | None, tuple[str, ...]]:
    """(the ProxyJump list, the ProxyCommand's words): at most one of them set, none for a direct
    connection.

    Whichever of ProxyJump and ProxyCommand ssh_config gives first wins, as in OpenSSH (a later one of
    the other is ignored), ``none`` included. The command is split into words as paramiko's
    ProxyCommand does (``shlex``) and run without a shell, as the paramiko transport runs it; its
    %h, %p and %r were expanded by paramiko's SSHConfig.lookup (ssh_config's HostName, Port, User).
    """
    for key, value in entry.items():  # paramiko's lookup keeps the order the settings were given in
        if key == "proxyjump":
            return (None if str(value).lower() == "none" else str(value)), ()
        if key == "proxycommand":
            if value is None or str(value).lower() == "none":
                return None, ()
            words = tuple(shlex.split(str(value)))
            if not words:
                raise ValueError("ProxyCommand is empty")
            return None, words
    return None, ()


def _hop(name: str, user: str | None, port: int | None, entry: Mapping[str, object]) -> SSHHop:
    return SSHHop(
        hostname=str(entry.get("hostname", name)),
        port=port or int(str(entry.get("port", 22))),
        user=user or str(entry.get("user") or getpass.getuser()),
        entry=entry,
    )


def _jump(spec: str, config: paramiko.SSHConfig) -> SSHHop:
    user, _, hostport = spec.rpartition("@")
    host, port = hostport, None
    if hostport.count(":") == 1 or (hostport.startswith("[") and "]:" in hostport):
        host, _, port_text = hostport.rpartition(":")
        host, port = host.strip("[]"), int(port_text)
    if not host:
        raise ValueError(f"ProxyJump hop {spec!r} names no host")
    return _hop(host, user or None, port, config.lookup(host))
