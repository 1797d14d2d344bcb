"""Scheduling an audit: ``--install-timer`` writes a oneshot service and a timer that pass
``systemd-analyze verify``; ``--print-cron`` prints a flock-wrapped crontab line; neither runs the audit."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
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


# -- issue 15: what reaches a unit or a crontab is exactly what was given, or refused --------------

INJECTIONS = [
    ["-e", 'x="1\nExecStart=/bin/touch /var/pwned\nX=y"'],  # a quoted k=v value holding newlines
    ["-e", '{"x": "1\nExecStart=/bin/touch /var/pwned"}'],  # a real newline inside a JSON string
    ["-l", "all\nExecStart=/bin/touch /var/pwned"],
    ["-e", 'x="1\rExecStart=/bin/touch /var/pwned"'],  # systemd ends a line at \r too
    ["-e", "x=1\x00y"],
]


@pytest.mark.parametrize("extra", INJECTIONS, ids=["k=v", "json", "limit", "cr", "nul"])
def test_a_value_that_would_start_another_line_is_refused_for_a_unit_and_a_crontab(
    tmp_path: Path, capsys: Any, monkeypatch, extra: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["audit", *extra, "--install-timer", "inj", "--unit-dir", str(tmp_path / "units")]
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert "newline or control character" in err and "-e @vars.yml" in err
    assert not (tmp_path / "units").exists() and not (tmp_path / "reports").exists()
    assert main(["audit", *extra, "--print-cron"]) == 5
    out, err = capsys.readouterr()
    assert out == "" and "--print-cron" in err and "newline or control character" in err


def test_the_injection_of_the_issue_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: Any, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = "x=1\nExecStart=/bin/touch /var/pwned\nX=y"
    assert main(["audit", "--install-timer", "inj", "-e", bad, "--unit-dir", "units"]) == 5
    assert main(["audit", "--print-cron", "-e", "x=1\n* * * * * touch /tmp/pwn"]) == 5
    out, err = capsys.readouterr()
    assert out == "" and err.count("ERROR:") == 2 and "Traceback" not in err
    assert not (tmp_path / "units").exists()


@pytest.mark.parametrize(
    "name",
    ["..", ".", "a@b", "x@.", "a\n", "", "-x", ".x", "a..b", "a/b", "../x", "a b", "a\\x2d", "a" * 248],
)
def test_unit_names_systemd_would_refuse_are_refused_and_nothing_runs(
    tmp_path: Path, capsys: Any, monkeypatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", f"--install-timer={name}", "--unit-dir", "units"]) == 5
    assert "is not a valid unit name" in capsys.readouterr().err
    assert not (tmp_path / "units").exists() and not (tmp_path / "reports").exists()


def test_the_longest_unit_name_systemd_takes_is_accepted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    name = "a" * 247  # 255 with ".service"
    assert main(["audit", "--install-timer", name, "--unit-dir", "units"]) == 0
    assert (tmp_path / "units" / f"{name}.service").exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["-e", "ansible_password=hunter22"],
        ["-e", "interval_s=1 ansible_become_pass='hunter 22'"],
        ["--extra-vars", '{"db": {"api_token": "hunter22"}}'],
        ["-e", "{hosts: [{my_secret: hunter22}]}"],
    ],
    ids=["k=v", "quoted", "json", "yaml-list"],
)
def test_secret_extra_vars_never_reach_a_unit_or_a_crontab(
    tmp_path: Path, capsys: Any, monkeypatch, extra: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", *extra, "--install-timer", "s", "--unit-dir", "units"]) == 5
    assert main(["audit", *extra, "--print-cron"]) == 5
    out, err = capsys.readouterr()
    assert "hunter" not in out + err and out == ""
    assert "in clear into the unit file" in err and "in clear into the crontab line" in err
    assert err.count("-e @vars.yml") == 2
    assert not (tmp_path / "units").exists()


def test_secrets_in_a_vars_file_are_read_at_each_run_and_stay_out_of_the_unit(
    tmp_path: Path, capsys: Any, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vars.yml").write_text("ansible_password: hunter22\n")
    assert main(["audit", "-e", "@vars.yml", "--install-timer", "s", "--unit-dir", "units"]) == 0
    assert main(["audit", "-e", "@vars.yml", "--print-cron"]) == 0
    service = (tmp_path / "units" / "s.service").read_text()
    assert "-e @vars.yml" in service and "hunter" not in service + capsys.readouterr().out


@pytest.mark.parametrize(
    ("notifier", "hint"),
    [
        (["--notify-url", "http://127.0.0.1:9/hook?token=hunter22"], "--notify-url @FILE"),
        (["--notify-url=http://ops:hunter22@127.0.0.1:9/hook"], "--notify-url @FILE"),
        (["--notify", "curl -sf -u ops:hunter22 -d @- http://127.0.0.1:9/hook"], "--notify /path/to/script"),
    ],
    ids=["url-token", "url-password", "command"],
)
def test_notifier_credentials_never_reach_a_unit_or_a_crontab(
    tmp_path: Path, capsys: Any, monkeypatch, notifier: list[str], hint: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", *notifier, "--install-timer", "s", "--unit-dir", "units"]) == 5
    assert main(["audit", *notifier, "--print-cron"]) == 5
    out, err = capsys.readouterr()
    assert "hunter" not in out + err and out == ""
    assert "holds a credential that would be written in clear into the unit file" in err
    assert "in clear into the crontab line" in err and err.count(hint) == 2
    assert not (tmp_path / "units").exists()


def test_a_notify_url_kept_in_a_file_stays_out_of_the_unit_and_is_read_at_each_run(
    tmp_path: Path, capsys: Any, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hook.url").write_text("http://127.0.0.1:9/hook?token=hunter22\n")
    assert main(["audit", "--notify-url", "@hook.url", "--install-timer", "s", "--unit-dir", "units"]) == 0
    assert main(["audit", "--notify-url", "@hook.url", "--print-cron"]) == 0
    service = (tmp_path / "units" / "s.service").read_text()
    assert "--notify-url @hook.url" in service and "hunter" not in service + capsys.readouterr().out


def test_unit_files_are_0600_and_a_symlinked_unit_file_is_refused(
    tmp_path: Path, capsys: Any, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--install-timer", "t", "--unit-dir", "units"]) == 0
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "units").iterdir()}
    assert modes == {"t.service": 0o600, "t.timer": 0o600}
    capsys.readouterr()
    victim = tmp_path / "victim"  # e.g. a file of root's that someone linked into a unit folder
    (tmp_path / "units" / "v.service").symlink_to(victim)
    assert main(["audit", "--install-timer", "v", "--unit-dir", "units"]) == 5
    err = capsys.readouterr().err
    assert "is a symbolic link" in err and str(victim) in err
    assert not victim.exists() and (tmp_path / "units" / "v.service").is_symlink()


# Words systemd and cron treat specially: specifiers, variables, quotes, backslashes, separators.
HOSTILE_WORDS = ["pct=50%", "v='$HOME ${X}'", 'q="a\'b\\\\c"', "x=%n%%", "t=\\%", "e=", '{"j": "1\\nY=z"}']


def _systemd_dump(units: Path, name: str) -> dict[str, str]:
    """What systemd itself parsed from NAME.service: ``systemd --test`` (no running systemd needed;
    it refuses root, so it runs as nobody on a world-readable copy)."""
    systemd, setpriv = Path("/lib/systemd/systemd"), shutil.which("setpriv")
    if not systemd.exists() or setpriv is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs /lib/systemd/systemd, setpriv and root (to run systemd --test as nobody)")
    public = Path(tempfile.mkdtemp(prefix="pfdiag-units-"))
    try:
        public.chmod(0o755)
        for path in units.iterdir():
            (public / path.name).write_text(path.read_text())
            (public / path.name).chmod(0o644)
        proc = subprocess.run(
            [
                setpriv,
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                str(systemd),
                "--test",
                "--system",
                f"--unit={name}.service",
            ],
            capture_output=True,
            text=True,
            env={"SYSTEMD_UNIT_PATH": f"{public}:", "PATH": os.environ["PATH"]},
            check=False,
            timeout=60,
        )
    finally:
        shutil.rmtree(public)
    block = proc.stdout.split(f"-> Unit {name}.service:", 1)[1].split("-> Unit ", 1)[0]
    found = {}
    for line in block.splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep and key in ("WorkingDirectory", "Environment", "Command Line"):
            found[key] = value
    return found


def test_systemd_reads_back_exactly_the_words_and_folder_given(tmp_path: Path, monkeypatch) -> None:
    cwd = tmp_path / "50% a b"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    argv = ["audit", *(a for w in HOSTILE_WORDS for a in ("-e", w)), "-l", "a b;c"]
    assert main([*argv, "--install-timer", "w", "--unit-dir", str(tmp_path / "units")]) == 0
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        files = [str(tmp_path / "units" / f"w.{s}") for s in ("timer", "service")]
        proc = subprocess.run([analyze, "verify", *files], capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    dump = _systemd_dump(tmp_path / "units", "w")
    assert dump["WorkingDirectory"] == str(cwd)
    # the dump quotes for a shell ("\\$" in double quotes, which shlex leaves alone: no word here has a
    # backslash before a "$"), with "$$" still to become "$" when the service starts
    line = dump["Command Line"].replace("\\$", "$")
    words = [w.replace("$$", "$") for w in shlex.split(line)]
    assert words[-len(argv) :] == argv


def _cron_command(line: str) -> str:
    """What cron hands to /bin/sh for a crontab line (cronie's do_command.c): the command after the five
    time fields, cut at the first unescaped '%', with each '\\%' turned into '%'."""
    command = line.split(" ", 5)[5]
    out, escaped = [], False
    for ch in command:
        if escaped:
            escaped = False
            if ch == "%":
                out[-1] = "%"
                continue
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            break
        out.append(ch)
    return "".join(out)


def test_cron_runs_exactly_the_words_and_folder_given(tmp_path: Path) -> None:
    from diag.audit.timers import cron_line

    cwd = tmp_path / "50% a b"
    cwd.mkdir()
    show = [sys.executable, "-c", "import json, os, sys; print(json.dumps([os.getcwd(), *sys.argv[1:]]))"]
    words = [*HOSTILE_WORDS, "b\\%", "b\\\\%", "&&", "'"]
    line = cron_line([*show, *words], 3600, cwd, tmp_path / "h%.lock")
    assert "\n" not in line and line.startswith("0 * * * * ")
    proc = subprocess.run(["/bin/sh", "-c", _cron_command(line)], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == [str(cwd), *words]


@pytest.mark.parametrize("every", ["0", "0s", "0.5", "2d", "99999999999999999999999d"])
def test_every_outside_a_second_to_a_day_says_it_must_be_positive_and_bounded(
    every: str, capsys: Any
) -> None:
    assert main(["audit", "--print-cron", "--every", every]) == 5
    err = capsys.readouterr().err
    assert "--every must be a positive whole number of seconds, at most 86400 (1d)" in err


def test_a_relative_unit_dir_is_written_and_hinted_as_an_absolute_path(
    tmp_path: Path, capsys: Any, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--install-timer", "rel", "--unit-dir", "units/../u"]) == 0
    out = capsys.readouterr().out
    service, timer = tmp_path / "u" / "rel.service", tmp_path / "u" / "rel.timer"
    assert f"wrote {service}\nwrote {timer}\n" in out
    # systemctl link refuses relative paths ("Paths must be absolute"): the hint names them absolute
    assert f"systemctl link {service} {timer}\n" in out


@pytest.mark.parametrize(
    "bad",
    [["--notify-url", "ftp://127.0.0.1/x"], ["--notify-url", "@no-such.url"], ["--notify-timeout", "0"]],
    ids=["not-http", "missing-file", "timeout"],
)
def test_what_the_scheduled_audit_would_refuse_is_refused_before_a_unit_or_cron_line(
    tmp_path: Path, capsys: Any, monkeypatch, bad: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", *bad, "--install-timer", "s", "--unit-dir", "units"]) == 5
    assert main(["audit", *bad, "--print-cron"]) == 5
    out, err = capsys.readouterr()
    assert out == "" and err.count("ERROR:") == 2 and "Traceback" not in err
    assert not (tmp_path / "units").exists()


# Every spelling either of the two old parsers took (the watch's: 90, 90s, 5m, 1.5h, 2d; the
# audit's: those and sec/secs/min/mins/hr/hour/hours/day/days), with the value it gave.
OLD_SPELLINGS = {
    "90": 90.0, " 90 ": 90.0, "90s": 90.0, "1.5s": 1.5, "5m": 300.0, "1.5m": 90.0, "1.5h": 5400.0,
    "2d": 172800.0, "30sec": 30.0, "30 secs": 30.0, "5min": 300.0, "15mins": 900.0, "2hr": 7200.0,
    "1hour": 3600.0, "4hours": 14400.0, "1day": 86400.0, "7days": 604800.0, "0": 0.0, "5 m": 300.0,
}  # fmt: skip


@pytest.mark.parametrize("flag", ["--cooldown", "--duration", "--renotify-after", "--every"])
def test_every_duration_flag_keeps_every_spelling_either_old_parser_took(flag: str) -> None:
    from diag.shared.units import parse_duration

    assert {text: parse_duration(text, flag) for text in OLD_SPELLINGS} == OLD_SPELLINGS


@pytest.mark.parametrize("text", ["soon", "5 minutes", "-5m", "5M", "1e3", "m", ""])
def test_what_no_old_parser_took_is_still_a_usage_error_naming_the_flag(text: str) -> None:
    from diag.shared.errors import UsageError
    from diag.shared.units import parse_duration

    with pytest.raises(UsageError, match=r"--cooldown: .* is not a duration"):
        parse_duration(text, "--cooldown")


def test_print_cron_every_takes_the_watch_spelling_5m(tmp_path: Path, capsys: Any, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--print-cron", "--every", "5m", "--renotify-after", "90sec"]) == 0
    assert capsys.readouterr().out.startswith("*/5 * * * *")
