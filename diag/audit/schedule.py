"""``pfdiag audit --install-timer NAME`` / ``--print-cron``: schedule this audit, run nothing.

In: a ``ScheduleRequest`` (the audit's command line, the period, where units go, and the options the
scheduled audit would check at every run). Out: the text to print: the crontab line, or the unit files
written (``diag.audit.timers``) and how to enable them. What the audit would refuse at every run is
refused now, before a unit or a line is made.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from diag.audit import timers
from diag.history import history_path
from diag.notify.delivery import notify_url
from diag.shared.limits import check_notify_timeout
from diag.shared.units import parse_duration


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """``unit_name`` None with ``print_cron``: print a crontab line instead of writing units.

    ``unit_dir`` None: systemd's folder for this user; ``history`` None as for ``pfdiag audit``.
    """

    argv: tuple[str, ...]
    every: str
    cwd: Path
    extra_vars: Sequence[str] = ()
    unit_name: str | None = None
    print_cron: bool = False
    unit_dir: Path | None = None
    history: Path | None = None
    notify_url: str | None = None
    notify_timeout_s: float = 30.0


def schedule_audit(request: ScheduleRequest) -> str:
    """Print the crontab line, or write ``NAME.service`` + ``NAME.timer`` and say how to enable them."""
    notify_url(request.notify_url)
    check_notify_timeout(request.notify_timeout_s)
    period = parse_duration(request.every, "--every")
    command = timers.audit_command(request.argv)
    unit = None if request.print_cron else request.unit_name  # None: a crontab line
    flag, written_into = (
        ("--print-cron", "the crontab line") if unit is None else ("--install-timer", "the unit file")
    )
    timers.check_no_secrets(request.extra_vars, flag, written_into)
    timers.check_no_notifier_secrets(request.argv, flag, written_into)
    if unit is None:
        lock = history_path(request.history, request.cwd).with_suffix(".lock")
        return timers.cron_line(command, period, request.cwd, lock)
    units = timers.timer_units(unit, command, period, request.cwd)
    # absolute: the files are named in `systemctl link`, which refuses a relative path
    unit_dir = Path(os.path.abspath(request.unit_dir)) if request.unit_dir else timers.default_unit_dir()
    written = [f"wrote {path}" for path in timers.install_timer(units, unit_dir)]
    return "\n".join([*written, "enable it with:\n" + timers.enable_hint(units, unit_dir)])
