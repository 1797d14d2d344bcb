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

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diag.shared.errors import TransportError
from diag.transport.base import ConnectOptions

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
