"""Notifications: a real ``sh -c`` command and a real webhook on a loopback HTTP server both get the
payload (Alertmanager's webhook shape plus new/resolved/repeated); nothing to tell sends nothing; a
persisting problem is repeated only after --renotify-after; a failing notifier is an outcome."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from diag.history.diff import Diff, Problem
from diag.notify import due_again, notify, send_command, send_url
from diag.shared.records import to_data
from tests.fixtures.processes import is_alive
from tests.fixtures.webhook import Receiver, raw_server, webhook_receiver

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
    gone = Problem(**{**to_data(STORM), "status": "resolved"})
    assert notify(Diff(resolved=(gone,)), AUDIT, command=None, url=receiver.url).status == "sent"
    [posted] = receiver.bodies
    assert posted["status"] == "resolved" and posted["resolved"][0]["code"] == "minor-storm"
    assert posted["alerts"][0]["endsAt"] == "2026-12-01T10:15:00+00:00"


def test_nothing_new_or_resolved_sends_nothing(receiver: Receiver) -> None:
    told = Problem(**{**to_data(STORM), "status": "persisting", "last_notified": _now()})
    assert notify(Diff(persisting=(told,)), AUDIT, command="exit 1", url=receiver.url).status == "nothing"
    assert receiver.bodies == []


def test_a_persisting_problem_is_repeated_after_renotify_after_or_when_never_delivered() -> None:
    told = Problem(**{**to_data(STORM), "status": "persisting", "last_notified": "2026-12-01T10:00:00+0000"})
    never = Problem(**{**to_data(STORM), "host": "h02", "status": "persisting", "last_notified": None})
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


# -- delivery bounds: redirects, one deadline for the whole delivery, capped output, process groups --


def test_a_redirect_is_not_followed_and_is_not_counted_as_delivered(receiver: Receiver) -> None:
    receiver.status, receiver.location = 302, receiver.url + "/moved?token=s3cr3t"
    outcome = notify(Diff(new=(STORM,)), AUDIT, command=None, url=receiver.url)
    assert outcome.status == "failed" and outcome.told == ()
    error = outcome.error or ""
    assert "HTTP 302" in error and "redirect is not followed for a POST" in error and "final URL" in error
    assert "s3cr3t" not in error
    assert receiver.requests == [("POST", "/alerts")]  # no body-less GET to the new place
    receiver.status, receiver.location = 204, None
    assert notify(Diff(new=(STORM,)), AUDIT, command=None, url=receiver.url).status == "sent"


def test_a_url_with_a_password_posts_with_basic_auth(receiver: Receiver) -> None:
    url = receiver.url.replace("http://", "http://bot:p%40ss@")
    assert send_url(url, ALERT) is None
    assert receiver.authorizations == ["Basic Ym90OnBAc3M="]  # bot:p@ss


def test_a_receiver_trickling_its_answer_is_stopped_by_the_timeout_of_the_whole_delivery() -> None:
    def trickle(conn: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:  # a byte every 0.5 s: 100 s in all
            conn.sendall(bytes([byte]))
            time.sleep(0.5)

    with raw_server(trickle) as url:
        started = time.monotonic()
        error = send_url(url, ALERT, timeout_s=2)
        elapsed = time.monotonic() - started
    assert error == f"--notify-url {url}: no complete answer within 2 s (--notify-timeout)"
    assert elapsed < 30  # urllib's per-read timeout waited the whole 100 s


def test_an_endless_answer_body_is_read_up_to_the_cap_and_the_delivery_counts() -> None:
    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n")
        zeros = bytes(65536)
        while True:
            conn.sendall(zeros)

    with raw_server(endless) as url:
        result: list[str | None] = []
        worker = threading.Thread(
            target=lambda: result.append(send_url(url, ALERT, timeout_s=60)), daemon=True
        )
        worker.start()
        worker.join(timeout=30)
    assert result == [None]  # urllib read the 100 GB body until the deadline, then called it failed


def test_a_notifier_printing_300_mb_keeps_the_controller_small() -> None:
    # VmHWM, the peak of this process's own memory since its exec: ru_maxrss survives exec on Linux, so in
    # a long pytest session it reported the forking pytest's size (256 MB), not the notifier's controller
    code = (
        "import re\n"
        "from diag.notify import send_command\n"
        "error = send_command('head -c 300000000 /dev/zero; echo failing >&2; exit 3', {'a': 1}, 120)\n"
        "print(error)\n"
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    error, maxrss_kib = out.splitlines()
    assert error.startswith("--notify command exited 3") and error.endswith("failing")
    assert int(maxrss_kib) < 150 * 1024, maxrss_kib  # capture_output held all 300 MB (674 MB peak)


def test_a_notifier_that_backgrounds_a_child_is_done_when_it_exits(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    error = send_command(f"sleep 60 & echo $! > {pidfile}; exit 0", ALERT, timeout_s=20)
    elapsed = time.monotonic() - started
    child = int(pidfile.read_text())
    try:
        assert error is None and elapsed < 20  # waiting for the child's end of stdout: "timed out"
        assert is_alive(child)  # what it put in the background is its own business
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_timed_out_notifier_leaves_no_process_behind(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    error = send_command(f"sleep 300 & echo $! > {pidfile}; wait", ALERT, timeout_s=1)
    assert error == "--notify command timed out after 1 s"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while is_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the kill to land (the child is reaped by init)
    if is_alive(child):
        os.kill(child, signal.SIGKILL)
        pytest.fail("the notifier's background child survived its timeout")


def test_a_notifier_that_reads_no_stdin_is_not_blocked_by_a_large_payload() -> None:
    big = {"alerts": ["x" * 1000] * 2000}  # 2 MB: more than a pipe holds
    assert send_command("exit 0", big, timeout_s=20) is None
    assert send_command("exit 4", big, timeout_s=20) == "--notify command exited 4"


def test_notify_url_at_file_reads_the_url_at_each_run_and_a_missing_file_is_a_usage_error(
    tmp_path: Path, receiver: Receiver, capsys: Any, monkeypatch: Any
) -> None:
    """The way to keep a webhook token out of a unit file, a crontab line or a shell's history."""
    from diag.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PFDIAG_HISTORY", raising=False)
    (tmp_path / "hook.url").write_text(receiver.url + "\n")
    problem = ("-e", "interval_s=0.5", "-e", "host_minflt_per_s=0")  # the probe itself faults
    assert main(["audit", *problem, "--history", "h.sqlite", "--notify-url", "@hook.url"]) in (0, 10)
    assert len(receiver.bodies) == 1 and receiver.bodies[0]["new"]
    assert main(["audit", *problem, "--history", "h.sqlite", "--notify-url", "@nowhere.url"]) == 5
    err = capsys.readouterr().err
    assert "--notify-url @nowhere.url: no such file" in err and "Traceback" not in err
