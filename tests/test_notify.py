"""Notifications: a real ``sh -c`` command and a real webhook on a loopback HTTP server both get the
payload (Alertmanager's webhook shape plus new/resolved/repeated); nothing to tell sends nothing; a
persisting problem is repeated only after --renotify-after; a failing notifier is an outcome."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from diag.history.diff import Diff, Problem
from diag.notify import due_again, notify, send_command, send_url
from tests.fixtures.webhook import Receiver, webhook_receiver

FIRST_SEEN = "2026-12-01T10:00:00+0000"
STORM = Problem("h01", "minor-storm", "java", "verdict", "warning", "storm", "new", FIRST_SEEN)
AUDIT = {"id": 2, "scope": "s", "finished": "2026-12-01T10:15:00+0000"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def test_command_and_webhook_both_receive_the_payload(tmp_path: Path, receiver: Receiver) -> None:
    out = tmp_path / "payload.json"
    outcome = notify(Diff(new=(STORM,)), AUDIT, command=f"cat > {out}", url=receiver.url)
    assert outcome.status == "sent" and outcome.told == (STORM.key,)
    [posted] = receiver.bodies
    assert json.loads(out.read_text()) == posted
    wanted = {"host": "h01", "code": "minor-storm", "severity": "warning", "summary": "storm"}
    assert posted["new"][0].items() >= wanted.items()
    assert posted["resolved"] == posted["repeated"] == []
    # Alertmanager webhook (version 4) shape
    assert posted["version"] == "4" and posted["status"] == "firing"
    [alert] = posted["alerts"]
    labels = {"alertname": "pfdiag:minor-storm", "instance": "h01", "severity": "warning", "comm": "java"}
    assert alert["labels"] == labels
    assert alert["startsAt"] == "2026-12-01T10:00:00+00:00" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert {"groupKey", "groupLabels", "commonLabels", "truncatedAlerts", "receiver"} <= set(posted)


def test_a_resolved_problem_is_sent_as_a_resolved_alert(receiver: Receiver) -> None:
    gone = Problem(**{**STORM.to_dict(), "status": "resolved"})
    assert notify(Diff(resolved=(gone,)), AUDIT, command=None, url=receiver.url).status == "sent"
    [posted] = receiver.bodies
    assert posted["status"] == "resolved" and posted["resolved"][0]["code"] == "minor-storm"
    assert posted["alerts"][0]["endsAt"] == "2026-12-01T10:15:00+00:00"


def test_nothing_new_or_resolved_sends_nothing(receiver: Receiver) -> None:
    told = Problem(**{**STORM.to_dict(), "status": "persisting", "last_notified": _now()})
    assert notify(Diff(persisting=(told,)), AUDIT, command="exit 1", url=receiver.url).status == "nothing"
    assert receiver.bodies == []


def test_a_persisting_problem_is_repeated_after_renotify_after_or_when_never_delivered() -> None:
    told = Problem(**{**STORM.to_dict(), "status": "persisting", "last_notified": "2026-12-01T10:00:00+0000"})
    never = Problem(**{**STORM.to_dict(), "host": "h02", "status": "persisting", "last_notified": None})
    diff = Diff(persisting=(told, never))
    from datetime import datetime

    now = datetime.strptime("2026-12-01T10:04:00+0000", "%Y-%m-%dT%H:%M:%S%z").timestamp()
    assert [p.host for p in due_again(diff, 300, now)] == ["h02"]
    assert [p.host for p in due_again(diff, 200, now)] == ["h01", "h02"]


def test_a_failing_notifier_is_reported_and_nothing_counts_as_told(receiver: Receiver) -> None:
    receiver.status = 500
    outcome = notify(Diff(new=(STORM,)), AUDIT, command="echo nope >&2; exit 3", url=receiver.url)
    assert outcome.status == "failed" and outcome.told == ()
    assert "exited 3: nope" in (outcome.error or "") and "HTTP 500" in (outcome.error or "")


def test_a_hanging_command_is_stopped_by_the_timeout() -> None:
    outcome = notify(Diff(new=(STORM,)), AUDIT, command="sleep 30", url=None, timeout_s=0.5)
    assert outcome.status == "failed" and "timed out after 0.5 s" in (outcome.error or "")


def test_an_unreachable_webhook_is_an_error_not_an_exception() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = notify(Diff(new=(STORM,)), AUDIT, command=None, url=f"http://127.0.0.1:{port}/", timeout_s=2)
    assert outcome.status == "failed" and "refused" in (outcome.error or "").lower()


def _now() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# One payload at a time (pfdiag watch sends each alert): the same two notifiers.
ALERT = {"type": "alert", "host": "h01", "pid": 42, "rule": "proc_minflt_per_s", "value": 5000.0}


@pytest.fixture
def alert_receiver() -> Iterator[tuple[str, list[Any]]]:
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


def test_notify_url_posts_the_alert_as_json(alert_receiver: tuple[str, list[Any]]) -> None:
    url, got = alert_receiver
    assert send_url(url + "/ok", ALERT) is None
    assert got == [("application/json", ALERT)]


def test_a_receiver_that_fails_is_a_reason_not_an_exception(alert_receiver: tuple[str, list[Any]]) -> None:
    url, _ = alert_receiver
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
