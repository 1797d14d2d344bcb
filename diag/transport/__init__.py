"""How a command reaches a host: one small Protocol, and a registry of transports by connection name.

The engine hands a transport a shell command string and gets back a ``CommandResult``; it never
knows whether the text came from a subprocess, an SSH channel or a recording (the watch keeps one
command running through ``stream``, the same way on every transport). ``open_transport`` finds the
transport by the host's ``ansible_connection`` in ``TRANSPORTS`` (local, ssh and its aliases smart
and paramiko, replay); a new transport is one class plus one ``register_transport``.
"""

from diag.transport.base import NO_DEADLINE, CommandResult, ConnectOptions, Deadline, Stream, Transport
from diag.transport.registry import TRANSPORTS, TransportFactory, open_transport, register_transport

__all__ = [
    "NO_DEADLINE",
    "TRANSPORTS",
    "CommandResult",
    "ConnectOptions",
    "Deadline",
    "Stream",
    "Transport",
    "TransportFactory",
    "open_transport",
    "register_transport",
]
