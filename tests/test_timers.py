"""Scheduling an audit: ``--install-timer`` writes a oneshot service and a timer that pass
``systemd-analyze verify``; ``--print-cron`` prints a flock-wrapped crontab line; neither runs the audit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from diag.cli import main


def test_install_timer_writes_units_that_systemd_analyze_verifies(
    tmp_path: Path, capsys: Any, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [
        "audit",
        "-e",
        "interval_s=1",
        "--textfile",
        "m/pfdiag.prom",
        "--install-timer",
        "pfdiag-audit",
        "--every",
        "15min",
        "--unit-dir",
        str(tmp_path / "units"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    service = (tmp_path / "units" / "pfdiag-audit.service").read_text()
    timer = (tmp_path / "units" / "pfdiag-audit.timer").read_text()
    assert "Type=oneshot" in service and f"WorkingDirectory={tmp_path}" in service
    exec_line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert exec_line.endswith(
        "diag audit -e interval_s=1 --textfile m/pfdiag.prom"
    )  # scheduling flags dropped
    assert exec_line.split("=", 1)[1].split()[0] in (sys.executable, shutil.which("pfdiag"))
    assert "OnCalendar=*-*-* *:00/15:00" in timer and "Persistent=true" in timer
    assert "RandomizedDelaySec=90" in timer
    assert "enable --now pfdiag-audit.timer" in out and "systemctl" in out
    assert not (tmp_path / "reports").exists()  # nothing ran
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (run-tests installs the systemd package)")
    # verify needs no running systemd (it loads the units offline): syntax, ExecStart paths, the timer
    proc = subprocess.run(
        [
            analyze,
            "verify",
            str(tmp_path / "units" / "pfdiag-audit.timer"),
            str(tmp_path / "units" / "pfdiag-audit.service"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


def test_systemd_analyze_verify_does_reject_a_broken_unit_here(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    (tmp_path / "bad.timer").write_text("[Timer]\nOnCalendar=bogus\n")
    proc = subprocess.run(
        [analyze, "verify", str(tmp_path / "bad.timer")], capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0 and "calendar" in proc.stderr


def test_print_cron_prints_one_flock_wrapped_line(tmp_path: Path, capsys: Any, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "-i", "inv", "--print-cron", "--every", "1h", "--history", "h.sqlite"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"0 * * * * cd {tmp_path} && flock -n {tmp_path / 'h.lock'} ")
    assert line.endswith("diag audit -i inv --history h.sqlite")


@pytest.mark.parametrize("every", ["7min", "soon"])
def test_a_period_cron_and_oncalendar_cannot_express_evenly_is_a_usage_error(every: str, capsys: Any) -> None:
    assert main(["audit", "--print-cron", "--every", every]) == 5
    assert "--every" in capsys.readouterr().err
