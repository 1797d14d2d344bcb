"""Delivering one JSON payload to ``--notify CMD`` or ``--notify-url URL``, within one deadline.

In: a command or an http(s) URL, the payload, and ``timeout_s``. Out: None when it was delivered, else
the error text (a failing notifier is an outcome, never an exception). The timeout bounds the WHOLE
delivery, not each read: a receiver trickling a byte every 2 s kept urllib's per-read timeout happy
for minutes. What comes back (the command's output, the answer's body) is read up to
``MAX_NOTIFY_OUTPUT_BYTES`` and the rest dropped. The command runs in its own process group: at the
deadline the group is killed (no orphans); a command that exits while a child it put in the background
still holds its output is done, not timed out. A URL must answer 2xx: a redirect is not followed (a
302 turned the POST into a body-less GET that urllib called a success), so the error names the target
to configure instead. URLs in messages go through ``mask_url`` (no token reaches a log or a report).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import selectors
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from diag.shared.errors import UsageError
from diag.shared.files import read_text
from diag.shared.limits import MAX_NOTIFY_OUTPUT_BYTES
from diag.shared.secrets import mask_url

NOTIFY_TIMEOUT_S = 30.0
_CHUNK = 65536


def notify_url(given: str | None) -> str | None:
    """``--notify-url`` as given, or ``@FILE``: the URL read from that file at each run, so a token in
    it stays out of a unit file, a crontab line and a shell's history (the file can be 0600).

    >>> notify_url("http://127.0.0.1:9093/api/v2/alerts")
    'http://127.0.0.1:9093/api/v2/alerts'
    >>> notify_url("hooks.example/x")
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: --notify-url 'hooks.example/x' must be an http:// or https:// URL
      hint: or @FILE: a file holding the URL on one line
    """
    if given is None:
        return None
    url = given
    if given.startswith("@"):
        try:
            url = read_text(Path(given[1:]), what="--notify-url file", error=UsageError).strip()
        except FileNotFoundError:
            raise UsageError(f"--notify-url {given}: no such file") from None
        if "\n" in url:
            raise UsageError(f"--notify-url {given}: the file must hold the URL on one line")
    if not url.startswith(("http://", "https://")):
        raise UsageError(
            f"--notify-url {mask_url(url)!r} must be an http:// or https:// URL",
            hint="or @FILE: a file holding the URL on one line",
        )
    return url


def send_command(command: str, payload: Mapping[str, Any], timeout_s: float = NOTIFY_TIMEOUT_S) -> str | None:
    """``sh -c command`` with the payload on stdin; the error text, or None when it exited 0."""
    data = json.dumps(payload, default=str).encode()
    try:
        proc = subprocess.Popen(
            ["sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one at the deadline
        )
    except OSError as exc:
        return f"--notify command could not start: {exc}"
    try:
        tail = _converse(proc, data, time.monotonic() + timeout_s)
    finally:
        if proc.returncode is None:  # the deadline passed, or an interrupt: nothing of it stays behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
    if tail is None:
        return f"--notify command timed out after {timeout_s:g} s"
    if proc.returncode != 0:
        text = tail.decode(errors="replace").strip()[-300:]
        return f"--notify command exited {proc.returncode}" + (f": {text}" if text else "")
    return None


def _converse(proc: subprocess.Popen[bytes], data: bytes, deadline: float) -> bytes | None:
    """Feed ``data`` to the command and keep the end of its output until it exits; None past the deadline.

    The shell's exit ends the wait, not the end of its output: ``cmd & exit 0`` leaves a child holding
    the pipe, and waiting for EOF waited for that child."""
    assert proc.stdin is not None and proc.stdout is not None
    os.set_blocking(proc.stdin.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    selector.register(proc.stdin, selectors.EVENT_WRITE)
    with contextlib.suppress(OSError, AttributeError):  # a pidfd says when the shell exits (Linux 5.3)
        selector.register(os.pidfd_open(proc.pid), selectors.EVENT_READ)
    tail, sent = b"", 0
    try:
        while proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for key, _ in selector.select(min(left, 0.5)):  # 0.5 s: the wake-up where pidfd is missing
                if key.fileobj is proc.stdin:
                    try:
                        sent += os.write(proc.stdin.fileno(), data[sent : sent + _CHUNK])
                    except (BrokenPipeError, BlockingIOError):
                        sent = len(data)  # it does not read its stdin: fine, it may not need to
                    if sent >= len(data):
                        selector.unregister(proc.stdin)
                        proc.stdin.close()
                elif key.fileobj is proc.stdout:
                    chunk = os.read(proc.stdout.fileno(), _CHUNK)
                    if not chunk:
                        selector.unregister(proc.stdout)
                    tail = (tail + chunk)[-MAX_NOTIFY_OUTPUT_BYTES:]
        # what it wrote before exiting is in the pipe now; a background child's later output is not ours
        os.set_blocking(proc.stdout.fileno(), False)
        with contextlib.suppress(BlockingIOError, OSError):
            while time.monotonic() < deadline and (chunk := os.read(proc.stdout.fileno(), _CHUNK)):
                tail = (tail + chunk)[-MAX_NOTIFY_OUTPUT_BYTES:]
    finally:
        for key in list(selector.get_map().values()):
            if isinstance(key.fileobj, int):
                os.close(key.fileobj)
        selector.close()
    return tail


def send_url(url: str, payload: Mapping[str, Any], timeout_s: float = NOTIFY_TIMEOUT_S) -> str | None:
    """HTTP POST of the payload as JSON; the error text, or None on a 2xx answer."""
    shown = mask_url(url)
    if not url.startswith(("http://", "https://")):
        return f"--notify-url must be http:// or https://, got {shown!r}"
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError as exc:
        return f"--notify-url {shown}: {exc}"
    data = json.dumps(payload, default=str).encode()
    watchdog = _Watchdog(timeout_s)
    try:
        status, reason, location = _post(parts, host, port, data, watchdog)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if watchdog.expired:
            return f"--notify-url {shown}: no complete answer within {timeout_s:g} s (--notify-timeout)"
        return f"--notify-url {shown}: {getattr(exc, 'strerror', None) or exc}"
    finally:
        watchdog.cancel()
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return (
            f"--notify-url {shown}: HTTP {status} {reason} to {mask_url(location or '?')}: a redirect is "
            "not followed for a POST (it would arrive without its body); give the final URL"
        )
    return f"--notify-url {shown}: HTTP {status} {reason}"


def _post(
    parts: urllib.parse.SplitResult, host: str, port: int | None, data: bytes, watchdog: _Watchdog
) -> tuple[int, str, str | None]:
    """One POST on a socket the watchdog can cut; (status, reason, Location) of the answer."""
    https = parts.scheme == "https"
    port = port or (443 if https else 80)
    sock = socket.create_connection((host, port), timeout=watchdog.timeout_s)
    watchdog.arm(sock)
    conn: http.client.HTTPConnection
    if https:
        context = ssl.create_default_context()
        conn = http.client.HTTPSConnection(host, port, timeout=watchdog.timeout_s, context=context)
        # the TLS socket takes the descriptor over: the watchdog cuts it, handshake included
        tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        watchdog.arm(tls)
        tls.do_handshake()
        conn.sock = tls
    else:
        conn = http.client.HTTPConnection(host, port, timeout=watchdog.timeout_s)
        conn.sock = sock
    try:
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        headers = {"Content-Type": "application/json", "User-Agent": "pfdiag", "Connection": "close"}
        if parts.username is not None:  # http://user:password@host/: basic auth, as curl does
            userinfo = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(userinfo.encode()).decode()
        conn.request("POST", path, body=data, headers=headers)
        response = conn.getresponse()
        response.read(MAX_NOTIFY_OUTPUT_BYTES)  # the body says nothing pfdiag needs; the rest is dropped
        return response.status, response.reason, response.getheader("Location")
    finally:
        conn.close()


class _Watchdog:
    """Cuts the connection at the deadline: a blocked read (trickled headers, a TLS handshake) ends."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout_s, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def arm(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                sock.close()
                raise TimeoutError("timed out")

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                with contextlib.suppress(OSError):  # socket's own shutdown: TLS's would drop its state
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()
