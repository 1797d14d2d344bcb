"""Notifications: an alert as JSON on a command's stdin, or POSTed to a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from diag.notify import send_command, send_url

ALERT = {"type": "alert", "host": "h01", "pid": 42, "rule": "proc_minflt_per_s", "value": 5000.0}


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Any]]]:
    got: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            got.append((self.headers["Content-Type"], json.loads(self.rfile.read(length))))
            self.send_response(204 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", got
    server.shutdown()
    server.server_close()


def test_notify_url_posts_the_alert_as_json(receiver: tuple[str, list[Any]]) -> None:
    url, got = receiver
    assert send_url(url + "/ok", ALERT) is None
    assert got == [("application/json", ALERT)]


def test_a_receiver_that_fails_is_a_reason_not_an_exception(receiver: tuple[str, list[Any]]) -> None:
    url, _ = receiver
    assert send_url(url + "/broken", ALERT) == f"--notify-url {url}/broken: HTTP 500 Internal Server Error"
    refused = send_url("http://127.0.0.1:1/", ALERT)  # nothing listens on port 1
    assert refused is not None and refused.startswith("--notify-url http://127.0.0.1:1/: ")
    assert (
        send_url("file:///etc/passwd", ALERT)
        == "--notify-url must be http:// or https://, got 'file:///etc/passwd'"
    )


def test_notify_command_gets_the_alert_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    assert send_command(f"cat > {out}", ALERT) is None
    assert json.loads(out.read_text()) == ALERT
    assert send_command("echo nope >&2; exit 3", ALERT) == "--notify command exited 3: nope"
