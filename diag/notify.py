"""Notifications: hand one event (an alert) to a command on stdin or POST it to a URL, as JSON.

In: the event dict and where to send it. Out: None, or a one-line reason when the delivery failed
(a notification never stops a watch or an audit). ``--notify CMD`` runs ``/bin/sh -c CMD``;
``--notify-url URL`` POSTs ``application/json``. Both have a timeout.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

TIMEOUT_S = 10.0


def send_command(cmd: str, payload: Mapping[str, Any], timeout_s: float = TIMEOUT_S) -> str | None:
    """Run ``cmd`` with the payload as JSON on stdin; the reason when it failed, else None."""
    data = json.dumps(payload, default=str).encode() + b"\n"
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", cmd], input=data, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return f"--notify command timed out after {timeout_s:g} s: {cmd}"
    except OSError as exc:
        return f"--notify command could not start: {exc}"
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(no stderr)"]
        return f"--notify command exited {proc.returncode}: {tail[0]}"
    return None


def send_url(url: str, payload: Mapping[str, Any], timeout_s: float = TIMEOUT_S) -> str | None:
    """POST the payload as JSON to ``url``; the reason when it failed, else None."""
    if not url.startswith(("http://", "https://")):
        return f"--notify-url must be http:// or https://, got {url!r}"
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "pfdiag"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        return f"--notify-url {url}: HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"--notify-url {url}: {getattr(exc, 'reason', exc)}"
    return None
