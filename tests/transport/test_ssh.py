"""The SSH transport against the real loopback sshd fleet: each host state, with its reason."""

from __future__ import annotations

import random
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from diag.shared.errors import TransportError
from diag.transport import ConnectOptions, Deadline, open_transport
from diag.transport.sshasync import SSHTransport
from diag.transport.sshconfig import resolve_target
from diag.transport.sshexec import remote_command
from tests.fixtures.sshd_fleet import Fleet

pytestmark = pytest.mark.ssh

_opened: list[SSHTransport] = []


@pytest.fixture(autouse=True)
def _close_opened() -> Iterator[None]:
    """Every transport a test opened with ``transport`` is closed after it: the fleet is the session's,
    and a login left open is one more sshd child for a later test that counts them (the watch's)."""
    yield
    while _opened:
        _opened.pop().close()


def transport(
    fleet: Fleet,
    name: str,
    options: ConnectOptions | None = None,
    deadline: Deadline | None = None,
    **hostvars: object,
) -> SSHTransport:
    """A transport as the engine opens it, with a 30 s host deadline unless told; closed after the test."""
    opened = SSHTransport(
        name,
        {**fleet.hosts[name], **hostvars},
        options or fleet.options,
        become=False,
        deadline=deadline or Deadline.after(30.0),
    )
    _opened.append(opened)
    return opened


def failure(t: SSHTransport, command: str = "true", timeout_s: float = 10) -> TransportError:
    with pytest.raises(TransportError) as caught:
        t.run(command, timeout_s=timeout_s)
    return caught.value


def fresh_known_hosts(fleet: Fleet, tmp_path: Path, *, hashed: bool = False) -> ConnectOptions:
    """Options whose only known_hosts file is an empty one under tmp_path (also where new keys go)."""
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host *\n  UserKnownHostsFile {tmp_path / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
        + ("  HashKnownHosts yes\n" if hashed else "")
    )
    return replace(fleet.options, known_hosts=(), ssh_config=str(config))


def test_healthy_host_runs_commands_and_passes_exit_codes_and_stderr_through(ssh_fleet: Fleet) -> None:
    t = open_transport("h01", ssh_fleet.hosts["h01"], ssh_fleet.options)
    assert isinstance(t, SSHTransport)
    try:
        assert t.run("echo hello", timeout_s=10).stdout == "hello\n"
        uptime = t.run("cat /proc/uptime", timeout_s=10)
        assert uptime.ok and all(float(field) >= 0 for field in uptime.stdout.split())
        failed = t.run("echo out; echo oops >&2; exit 3", timeout_s=10)
        assert (failed.exit_code, failed.stdout, failed.stderr) == (3, "out\n", "oops\n")
        assert t.run("id -un", timeout_s=10).stdout.strip() == ssh_fleet.user
    finally:
        t.close()


def test_one_connection_is_reused_for_all_commands_of_a_host(ssh_fleet: Fleet) -> None:
    t = transport(ssh_fleet, "h02")
    try:
        # SSH_CLIENT names the client's source port: the same port means the same TCP connection.
        ports = {t.run("echo $SSH_CLIENT", timeout_s=10).stdout.split()[1] for _ in range(3)}
        assert len(ports) == 1
    finally:
        t.close()


def test_large_output_on_both_streams_is_read_without_deadlock(ssh_fleet: Fleet) -> None:
    t = transport(ssh_fleet, "h03")
    try:
        result = t.run("head -c 3000000 /dev/zero | tr '\\0' a; head -c 3000000 /dev/zero >&2", timeout_s=20)
        assert (len(result.stdout), len(result.stderr)) == (3_000_000, 3_000_000)
    finally:
        t.close()


def test_refused_port_is_unreachable_and_names_address_and_port(ssh_fleet: Fleet) -> None:
    host = ssh_fleet.hosts["refused"]
    error = failure(transport(ssh_fleet, "refused"))
    assert error.state == "unreachable"
    assert f"{host['ansible_host']}:{host['ansible_port']}" in error.render()
    assert "refused" in error.message


def test_blackhole_costs_its_banner_timeout_and_no_more(ssh_fleet: Fleet) -> None:
    # The later stages get 20 s each, so "its banner timeout and no more" stands 10 s clear of the
    # next stage's: a margin a loaded 2-core machine keeps.
    options = replace(
        ssh_fleet.options,
        connect_timeout_s=1.0,
        banner_timeout_s=1.0,
        auth_timeout_s=20.0,
        session_timeout_s=20.0,
    )
    started = time.monotonic()
    error = failure(transport(ssh_fleet, "blackhole", options))
    elapsed = time.monotonic() - started
    assert error.state == "unreachable"
    assert "banner" in error.message
    assert elapsed < 1.0 + 9.0  # correctness bound: the stage timeout plus a margin, below the next stage's


def test_unknown_host_key_is_refused_in_strict_mode_with_how_to_trust_it(ssh_fleet: Fleet) -> None:
    port = ssh_fleet.hosts["unknown"]["ansible_port"]
    error = failure(transport(ssh_fleet, "unknown"))
    assert error.state == "hostkey-unknown"
    assert "SHA256:" in error.message
    assert error.hint is not None
    assert f"ssh-keyscan -p {port} " in error.hint and "accept-new" in error.hint


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
def test_accept_new_records_the_key_and_the_next_strict_connect_succeeds(
    ssh_fleet: Fleet, tmp_path: Path, hashed: bool
) -> None:
    options = fresh_known_hosts(ssh_fleet, tmp_path, hashed=hashed)
    first = transport(ssh_fleet, "unknown", replace(options, host_key_policy="accept-new"))
    assert first.run("true", timeout_s=10).ok
    first.close()
    lines = (tmp_path / "known_hosts").read_text().splitlines()
    host = ssh_fleet.hosts["unknown"]
    assert len(lines) == 1 and " ssh-ed25519 " in lines[0]
    assert lines[0].startswith("|1|") if hashed else lines[0].startswith(f"[{host['ansible_host']}]:")
    second = transport(ssh_fleet, "unknown", options)  # strict, reads what accept-new wrote
    assert second.run("true", timeout_s=10).ok
    second.close()


def test_accept_new_from_many_threads_writes_one_whole_line_per_host(
    ssh_fleet: Fleet, tmp_path: Path
) -> None:
    options = replace(fresh_known_hosts(ssh_fleet, tmp_path), host_key_policy="accept-new")
    errors: list[BaseException] = []

    def connect(name: str) -> None:
        try:
            t = transport(ssh_fleet, name, options)
            t.run("true", timeout_s=10)
            t.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=connect, args=(name,)) for name in ssh_fleet.healthy]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    lines = (tmp_path / "known_hosts").read_text().splitlines()
    assert len(lines) == len(ssh_fleet.healthy)
    assert all(len(line.split()) == 3 for line in lines)


@pytest.mark.parametrize("policy", ["strict", "accept-new"])
def test_changed_host_key_is_refused_whatever_the_policy(ssh_fleet: Fleet, policy: str) -> None:
    before = ssh_fleet.known_hosts.read_text()
    error = failure(transport(ssh_fleet, "changed", replace(ssh_fleet.options, host_key_policy=policy)))
    assert error.state == "hostkey-changed"
    assert "CHANGED" in error.message and error.hint is not None and "ssh-keygen -R" in error.hint
    assert ssh_fleet.known_hosts.read_text() == before


def test_refused_client_key_is_auth_failed_and_names_the_key(ssh_fleet: Fleet) -> None:
    t = transport(ssh_fleet, "badauth")
    error = failure(t)
    assert error.state == "auth-failed"
    assert str(ssh_fleet.client_key) in error.message
    # a host that failed to log in fails fast afterwards: the same error again, no second login attempt
    assert failure(t) is error


def test_command_timeout_kills_the_remote_command_and_its_children(ssh_fleet: Fleet) -> None:
    # Unusual durations, so other sleeps on this shared machine never match; anchored patterns
    # match the sleeps themselves, not the wrapper's or pgrep's own command line.
    seconds = random.randrange(100_000, 900_000, 2)
    t = transport(ssh_fleet, "h04")
    started = time.monotonic()
    error = failure(t, f"sleep {seconds} & sleep {seconds + 1}", timeout_s=1)
    assert error.state == "timeout"
    assert time.monotonic() - started < 1 + 9.0  # the 1 s timeout, not the sleep or the 30 s host deadline
    checker = transport(ssh_fleet, "h04")
    try:
        alive = checker.run(f"pgrep -f '^sleep ({seconds}|{seconds + 1})$' || echo none", timeout_s=10)
        assert alive.stdout.strip() == "none"
    finally:
        checker.close()
        t.close()


def test_become_runs_through_sudo_n_and_fails_clearly_without_sudo(ssh_fleet: Fleet) -> None:
    assert remote_command("id -u", 5, sudo=True).count("sudo -n /bin/sh -c 'id -u'") == 1
    t = SSHTransport("h05", ssh_fleet.hosts["h05"], ssh_fleet.options, become=True)
    try:
        # The fleet is this machine: sudo is either missing, or present with no NOPASSWD rule for the
        # test user. Either way become must fail at once (sudo -n never prompts) and say why.
        error = failure(t, "id -u")
        assert error.state == "failed"
        assert ("not installed" in error.message) == (shutil.which("sudo") is None)
        assert error.hint is not None and "NOPASSWD" in error.hint
    finally:
        t.close()


def test_ssh_config_alias_supplies_hostname_port_user_and_identity_file(
    ssh_fleet: Fleet, tmp_path: Path
) -> None:
    host = ssh_fleet.hosts["h06"]
    options = ssh_fleet.alias_options(tmp_path / "ssh_config", "web-alias", "h06", [ssh_fleet.client_key])
    t = SSHTransport("web-alias", {}, options, become=False)
    try:
        assert t.run("id -un", timeout_s=10).stdout.strip() == ssh_fleet.user
        assert f"{host['ansible_host']}:{host['ansible_port']}" in t.where
    finally:
        t.close()


def test_proxyjump_from_ssh_config_reaches_the_host_through_a_verified_jump(
    ssh_fleet: Fleet, tmp_path: Path
) -> None:
    jump, target = ssh_fleet.hosts["h07"], ssh_fleet.hosts["h08"]
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host behind\n  Hostname {target['ansible_host']}\n  Port {target['ansible_port']}\n"
        f"  ProxyJump {ssh_fleet.user}@{jump['ansible_host']}:{jump['ansible_port']}\n"
        f"Host *\n  User {ssh_fleet.user}\n  IdentityFile {ssh_fleet.client_key}\n"
    )
    t = SSHTransport("behind", {}, replace(ssh_fleet.options, ssh_config=str(config)), become=False)
    try:
        assert t.run("id -un", timeout_s=10).stdout.strip() == ssh_fleet.user
    finally:
        t.close()
    # The jump is really used, and its host key checked too: a jump host with an unknown key stops us.
    unknown = ssh_fleet.hosts["unknown"]
    via_unknown = tmp_path / "ssh_config_unknown_jump"
    via_unknown.write_text(
        config.read_text().replace(
            f"{jump['ansible_host']}:{jump['ansible_port']}",
            f"{unknown['ansible_host']}:{unknown['ansible_port']}",
        )
    )
    options = replace(ssh_fleet.options, ssh_config=str(via_unknown))
    error = failure(SSHTransport("behind", {}, options, become=False))
    assert error.state == "hostkey-unknown"
    assert f"[{unknown['ansible_host']}]:{unknown['ansible_port']}" in error.message


def test_inventory_user_beats_cli_user_like_ansible(ssh_fleet: Fleet) -> None:
    options = replace(ssh_fleet.options, user="not-a-user", private_key="/nonexistent/key")
    target = resolve_target("h01", ssh_fleet.hosts["h01"], options)
    assert (target.user, target.key_files) == (ssh_fleet.user, (str(ssh_fleet.client_key),))
    bare = {"ansible_host": "127.0.0.10"}
    assert resolve_target("h01", bare, options).user == "not-a-user"
    t = transport(ssh_fleet, "h01", options)
    try:
        assert t.run("id -un", timeout_s=10).stdout.strip() == ssh_fleet.user
    finally:
        t.close()


def test_host_deadline_bounds_the_whole_host(ssh_fleet: Fleet) -> None:
    t = transport(ssh_fleet, "h03", deadline=Deadline.after(2.0))
    started = time.monotonic()
    try:
        assert t.run("true", timeout_s=30).ok
        error = failure(t, "sleep 30", timeout_s=30)
        assert error.state == "timeout" and "host deadline" in error.message
        assert time.monotonic() - started < 2.0 + 13.0  # the 2 s deadline, not the 30 s of the sleep
        assert failure(t, "true", timeout_s=30).state == "timeout"  # nothing left of the deadline
    finally:
        t.close()


def test_unknown_host_key_policy_is_a_clear_failure_not_a_crash(ssh_fleet: Fleet) -> None:
    error = failure(transport(ssh_fleet, "h01", replace(ssh_fleet.options, host_key_policy="yolo")))
    assert error.state == "failed" and "accept-new" in (error.hint or "")


def test_a_key_file_is_parsed_once_and_read_again_when_it_changes(ssh_fleet: Fleet, tmp_path: Path) -> None:
    from diag.transport.sshkeys import loaded_key

    key_file = tmp_path / "id"
    shutil.copy(ssh_fleet.client_key, key_file)
    first = loaded_key(str(key_file))
    assert first is not None and loaded_key(str(key_file)) is first
    # the key a fleet host accepts logs in from the cache
    assert (
        transport(ssh_fleet, "h01", ansible_ssh_private_key_file=str(key_file))
        .run("true", timeout_s=10)
        .exit_code
        == 0
    )
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    shutil.copy(tmp_path / "other", key_file)
    second = loaded_key(str(key_file))
    assert second is not None and second.get_fingerprint() != first.get_fingerprint()
    # now the host refuses it, and says which key was tried
    error = failure(transport(ssh_fleet, "h02", ansible_ssh_private_key_file=str(key_file)))
    assert error.state == "auth-failed" and str(key_file) in error.message


def test_a_key_paramiko_must_read_itself_is_left_to_it(ssh_fleet: Fleet, tmp_path: Path) -> None:
    from diag.transport.sshkeys import loaded_key

    encrypted = tmp_path / "encrypted"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(encrypted)], check=True)
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key\n")
    assert loaded_key(str(encrypted)) is None and loaded_key(str(garbage)) is None
    assert loaded_key(str(tmp_path / "missing")) is None
    for path in (encrypted, garbage):
        error = failure(transport(ssh_fleet, "h01", ansible_ssh_private_key_file=str(path)))
        assert error.state == "auth-failed" and str(path) in error.message


def test_building_a_connection_leaves_the_shared_fabric_config_alone(ssh_fleet: Fleet) -> None:
    from diag.transport.ssh import _fabric_config

    config = _fabric_config(ssh_fleet.options.ssh_config)
    before = dict(config._modifications)
    for name in ("h01", "h02"):
        assert transport(ssh_fleet, name).run("true", timeout_s=10).exit_code == 0
    assert config._modifications == before


def test_a_renewed_certificate_beside_the_same_key_is_read_again(tmp_path: Path) -> None:
    from diag.transport.sshkeys import loaded_key

    def keygen(*args: str) -> None:
        subprocess.run(["ssh-keygen", "-q", *args], check=True, capture_output=True)

    keygen("-t", "ed25519", "-N", "", "-f", str(tmp_path / "ca"))
    keygen("-t", "ed25519", "-N", "", "-f", str(tmp_path / "id"))
    keygen("-s", str(tmp_path / "ca"), "-I", "first", "-n", "pfdiag-test", str(tmp_path / "id.pub"))
    first = loaded_key(str(tmp_path / "id"))
    assert first is not None and first.public_blob is not None
    time.sleep(0.01)  # a new mtime even on coarse clocks
    keygen("-s", str(tmp_path / "ca"), "-I", "renewed-cert", "-n", "pfdiag-test", str(tmp_path / "id.pub"))
    renewed = loaded_key(str(tmp_path / "id"))
    assert renewed is not None and renewed is not first
    assert renewed.public_blob is not None and renewed.public_blob.key_blob != first.public_blob.key_blob
