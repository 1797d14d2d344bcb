"""Scheduling an audit: a systemd ``.service`` + ``.timer`` pair, or a crontab line wrapped in flock.

In: the audit's own command line (minus the scheduling flags), a period (``--every 15min``) and a
name. Out: unit file texts (a oneshot service running the same command line in the same directory, a
timer with ``OnCalendar``, ``Persistent=true`` and ``RandomizedDelaySec``), written to ``--unit-dir``,
and the commands that enable them; or one crontab line. A period must divide a minute, an hour or a
day so that ``OnCalendar`` (and cron) can express it evenly.

Everything written into a unit or a crontab line comes from the command line, so it is written so
that systemd and cron read back exactly the words given: each value quoted for its directive (``%``
specifiers as ``%%``, ``$`` as ``$$`` in ``ExecStart``, ``%`` as ``\\%`` for cron) and a value no line
can hold (a newline, any control character) refused, as is a secret ``-e`` variable (it would sit in
clear in the unit or the crontab: a vars file keeps it out). Unit names are checked as systemd does.
Unit files are written by ``diag.shared.files``: 0600, never through a symlink.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from diag.playbook.language.variables import parse_extra_var
from diag.shared.errors import UsageError
from diag.shared.files import write_text
from diag.shared.limits import MAX_EVERY_S, MAX_UNIT_NAME_CHARS, MIN_EVERY_S
from diag.shared.secrets import redact_argv, secret_names

# systemd's unit name characters minus "@" (a template instance needs a template file) and "\\"
# (systemd's own escapes); a leading "." hides the file, a leading "-" reads as an option to systemctl.
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_][A-Za-z0-9:_.-]*")
# What no unit or crontab line can hold: a newline ends the line (and starts an injected one).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Flags that schedule the audit rather than being part of it: (flag, takes a value).
SCHEDULING_FLAGS = {"--install-timer": True, "--every": True, "--unit-dir": True, "--print-cron": False}


def on_calendar(period_s: float) -> str:
    """An ``OnCalendar=`` expression firing every ``period_s``, aligned to the clock.

    >>> on_calendar(900), on_calendar(3600), on_calendar(6 * 3600), on_calendar(86400), on_calendar(30)
    ('*-*-* *:00/15:00', '*-*-* *:00:00', '*-*-* 00/6:00:00', '*-*-* 00:00:00', '*-*-* *:*:00/30')
    """
    p = int(period_s)
    if p != period_s or not MIN_EVERY_S <= p <= MAX_EVERY_S:
        raise UsageError(
            f"--every must be a positive whole number of seconds, at most {MAX_EVERY_S} (1d), "
            f"got {period_s:g}",
            hint="use e.g. 30s, 5min, 15min, 1h, 6h or 1d",
        )
    if p < 60 and 60 % p == 0:
        return f"*-*-* *:*:00/{p}"
    if p < 3600 and p % 60 == 0 and 60 % (p // 60) == 0:
        return f"*-*-* *:00/{p // 60}:00"
    if p == 3600:
        return "*-*-* *:00:00"
    if p < 86400 and p % 3600 == 0 and 24 % (p // 3600) == 0:
        return f"*-*-* 00/{p // 3600}:00:00"
    if p == 86400:
        return "*-*-* 00:00:00"
    raise UsageError(
        f"--every {p} s does not divide a minute, an hour or a day evenly",
        hint="use e.g. 30s, 5min, 15min, 1h, 6h or 1d",
    )


def cron_schedule(period_s: float) -> str:
    """The five crontab time fields for ``period_s`` (cron cannot go below a minute).

    >>> cron_schedule(900), cron_schedule(3600), cron_schedule(4 * 3600), cron_schedule(86400)
    ('*/15 * * * *', '0 * * * *', '0 */4 * * *', '0 0 * * *')
    """
    on_calendar(period_s)  # same rules
    p = int(period_s)
    if p < 60:
        raise UsageError(
            "--print-cron: cron cannot run more often than once a minute", hint="use --every 1min or more"
        )
    if p < 3600:
        return f"*/{p // 60} * * * *"
    if p < 86400:
        return "0 * * * *" if p == 3600 else f"0 */{p // 3600} * * *"
    return "0 0 * * *"


def audit_command(argv: Sequence[str]) -> list[str]:
    """The command a timer runs: this interpreter's pfdiag with ``argv`` minus the scheduling flags."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        flag = arg.split("=", 1)[0]
        if flag in SCHEDULING_FLAGS:
            skip = SCHEDULING_FLAGS[flag] and "=" not in arg
            continue
        kept.append(arg)
    script = shutil.which("pfdiag")
    base = [script] if script and os.environ.get("PYTHONPATH") is None else [sys.executable, "-m", "diag"]
    return [*base, *kept]


def check_unit_name(name: str) -> str:
    """``name`` when systemd accepts ``NAME.service`` and ``NAME.timer`` as they are, else ``UsageError``.

    >>> check_unit_name("pfdiag-audit.web")
    'pfdiag-audit.web'
    >>> check_unit_name("../x")
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: --install-timer: '../x' is not a valid unit name
      hint: letters, digits and - _ . : (not first: . -), at most 247 characters, e.g. pfdiag-audit
    """
    if not _UNIT_NAME.fullmatch(name) or ".." in name or len(name) > MAX_UNIT_NAME_CHARS:
        raise UsageError(
            f"--install-timer: {name!r} is not a valid unit name",
            hint=f"letters, digits and - _ . : (not first: . -), at most {MAX_UNIT_NAME_CHARS} "
            "characters, e.g. pfdiag-audit",
        )
    return name


def check_line_value(value: str, flag: str, what: str) -> str:
    """``value`` when it fits on one line of a unit file or crontab, else ``UsageError``.

    >>> check_line_value("x=1\\nX=y", "--install-timer", "the argument")
    Traceback (most recent call last):
    ...
    diag.shared.errors.UsageError: --install-timer: the argument 'x=1\\nX=y' holds a newline or control character
      hint: it would end the line and start another: put the value in a vars file, -e @vars.yml
    """  # noqa: E501 (a doctest: the exception line is printed whole)
    if _CONTROL.search(value):
        raise UsageError(
            f"{flag}: {what} {value!r} holds a newline or control character",
            hint="it would end the line and start another: put the value in a vars file, -e @vars.yml",
        )
    return value


def check_no_secrets(extra_vars: Sequence[str], flag: str, where: str) -> None:
    """``UsageError`` when an ``-e`` value (not an ``@file``) sets a secret-named variable.

    A unit file or a crontab is read by whoever administers the machine and kept in backups: a
    password there outlives the audit. A vars file is read at each run and can stay private.
    """
    for text in extra_vars:
        if text.strip().startswith("@"):
            continue
        names = secret_names(parse_extra_var(text))
        if names:
            raise UsageError(
                f"{flag}: -e {', '.join(names)} would be written in clear into {where}",
                hint="put it in a vars file only the audit's user can read (chmod 600) and pass "
                "-e @vars.yml: the file is read at each run",
            )


def check_no_notifier_secrets(argv: Sequence[str], flag: str, where: str) -> None:
    """``UsageError`` when a ``--notify`` / ``--notify-url`` value carries a credential (what
    ``redact_argv`` would mask): like a secret ``-e``, it would outlive the audit in ``where``."""
    pending = ""  # the notifier option whose value is the next word
    for arg, masked in zip(argv, redact_argv(argv), strict=True):
        option = pending or arg.partition("=")[0]
        pending = arg if arg in NOTIFIER_HINTS else ""
        if arg != masked and option in NOTIFIER_HINTS:
            raise UsageError(
                f"{flag}: the {option} value holds a credential that would be written in clear into {where}",
                hint=NOTIFIER_HINTS[option],
            )


NOTIFIER_HINTS = {
    "--notify-url": "put the URL in a file only the audit's user can read (chmod 600) and pass "
    "--notify-url @FILE: the file is read at each run",
    "--notify": "put the command in a script only the audit's user can read (chmod 700) and pass "
    "--notify /path/to/script",
}


def _systemd_quote(arg: str, *, variables: bool = True) -> str:
    """One word of ``ExecStart=`` (``variables``: ``$`` is expanded there) or ``Environment=``:
    specifiers (%) and ``$`` escaped, quoted when it needs it."""
    text = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    text = text.replace("$", "$$") if variables else text
    return f'"{text}"' if re.search(r"[\s\"';\\]", arg) or not arg else text


def _systemd_path(path: Path) -> str:
    """A path directive (``WorkingDirectory=``): no quoting there, only specifiers escaped."""
    text = check_line_value(str(path), "--install-timer", "the path")
    if text != text.rstrip() or text.endswith("\\"):  # systemd strips the blank; "\\" joins the next line
        raise UsageError(f"--install-timer: the path {text!r} ends in a blank or a backslash")
    return text.replace("%", "%%")


@dataclass(frozen=True, slots=True)
class TimerUnits:
    """The two unit files, by file name."""

    name: str
    service: str
    timer: str


def timer_units(name: str, command: Sequence[str], period_s: float, cwd: Path) -> TimerUnits:
    """The ``NAME.service`` (oneshot, the audit) and ``NAME.timer`` (``OnCalendar``) texts."""
    check_unit_name(name)
    for arg in command:
        check_line_value(arg, "--install-timer", "the argument")
    calendar = on_calendar(period_s)
    # spread a fleet of timers over a tenth of the period (at most 5 min) so they do not start together
    delay_s = max(1, min(300, int(period_s // 10)))
    env = ""
    if os.environ.get("PYTHONPATH"):
        value = check_line_value("PYTHONPATH=" + os.environ["PYTHONPATH"], "--install-timer", "the variable")
        env = f"Environment={_systemd_quote(value, variables=False)}\n"
    service = (
        "[Unit]\n"
        f"Description=pfdiag audit {name}\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={_systemd_path(cwd)}\n"
        f"{env}"
        f"ExecStart={' '.join(_systemd_quote(a) for a in command)}\n"
        # exit 10 (--fail-on) and 4/2 (host states) are results of an audit, not a broken service;
        # they are still visible in `systemctl status` and the journal
        "SuccessExitStatus=2 4 10\n"
        "Nice=10\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=Run pfdiag audit {name} every {int(period_s)} s\n\n"
        "[Timer]\n"
        f"OnCalendar={calendar}\n"
        "Persistent=true\n"
        f"RandomizedDelaySec={delay_s}\n"
        f"Unit={name}.service\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return TimerUnits(name, service, timer)


def default_unit_dir() -> Path:
    """``/etc/systemd/system`` for root, else the user's ``~/.config/systemd/user``."""
    if os.geteuid() == 0:
        return Path("/etc/systemd/system")
    return Path.home() / ".config" / "systemd" / "user"


def install_timer(units: TimerUnits, unit_dir: Path) -> list[Path]:
    """Write both files into ``unit_dir`` (0600, a symlink refused); their paths."""
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot write unit files into {str(unit_dir)!r}: {exc.strerror}", hint="--unit-dir DIR"
        ) from None
    paths = []
    for suffix, text in ((".service", units.service), (".timer", units.timer)):
        path = unit_dir / f"{units.name}{suffix}"
        write_text(path, text, what="unit file", symlinks=False, error=UsageError)
        paths.append(path)
    return paths


def enable_hint(units: TimerUnits, unit_dir: Path) -> str:
    """How to start the timer, for the unit folder it was written to."""
    standard = (
        "/etc/systemd/system",
        "/usr/lib/systemd",
        "/lib/systemd",
        str(Path.home() / ".config/systemd/user"),
    )
    user = "" if os.geteuid() == 0 else " --user"
    link = ""
    if not any(unit_dir == Path(s) or Path(s) in unit_dir.parents for s in standard):
        # a folder systemd does not read: link the files first (systemctl link takes absolute paths)
        files = " ".join(shlex.quote(str(unit_dir / f"{units.name}{s}")) for s in (".service", ".timer"))
        link = f"systemctl{user} link {files}\n"
    return (
        link + f"systemctl{user} daemon-reload && systemctl{user} enable --now {units.name}.timer\n"
        f"systemctl{user} list-timers {units.name}.timer   # next run\n"
        f"journalctl{user} -u {units.name}.service   # what each audit printed"
    )


def cron_line(command: Sequence[str], period_s: float, cwd: Path, lock: Path) -> str:
    """A crontab line: ``flock -n`` skips a run while the previous one still holds the lock.

    >>> print(cron_line(["pfdiag", "audit", "-e", "x=50%"], 3600, Path("/srv/a b"), Path("/srv/h.lock")))
    0 * * * * cd '/srv/a b' && flock -n /srv/h.lock pfdiag audit -e x=50\\%
    """
    for word in (str(cwd), str(lock), *command):
        check_line_value(word, "--print-cron", "the argument")
    words = " ".join(shlex.quote(a) for a in ("flock", "-n", str(lock), *command))
    text = f"cd {shlex.quote(str(cwd))} && {words}"
    # cron turns an unescaped % into a newline (the rest is the command's stdin), quoted or not, and
    # "\\%" into "%"; after a backslash of the value an empty '' keeps that backslash from escaping ours
    text = re.sub(r"(\\?)%", lambda m: m[1] + ("''" if m[1] else "") + "\\%", text)
    return f"{cron_schedule(period_s)} {text}"
