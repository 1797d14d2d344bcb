"""The terminal view: a row per host, each failed host's full reason, the recap and the totals."""

from diag.report.terminal import render_terminal
from tests.report.fleets import mixed_fleet


def test_every_host_that_did_not_complete_gets_its_full_reason_on_its_own_line():
    run = mixed_fleet()
    text = render_terminal(run)
    for host in run.hosts:
        if host.status != "ok":
            reason = " ".join((host.reason or "").split())
            assert f"{host.status}: [{host.host}] {reason}" in text


def test_recap_counts_only_could_not_get_in_states_as_unreachable():
    text = render_terminal(mixed_fleet())
    recap = {line.split(" :")[0].strip(): line for line in text.splitlines() if " : ok=" in line}
    assert "unreachable=1" in recap["db04"]  # auth-failed
    assert "unreachable=1" in recap["cache03"]  # hostkey-changed
    assert "unreachable=0" in recap["db02"]


def test_totals_line_counts_hosts_per_verdict_and_state():
    run = mixed_fleet()
    lines = render_terminal(run).splitlines()
    totals = next(line for line in lines if line.startswith(f"{len(run.hosts)} host(s):"))
    assert "1 major-swap" in totals and "2 unreachable" in totals and "1 auth-failed" in totals
