"""The ``profile`` module: where in the code a process's page faults come from (the deep dive).

In: which processes (``pid``, ``match`` regex, or ``processes`` from a ``sample``) and ``interval_s``.
Out: per process its perf counters, top symbols and call chains (with binaries and share), the files
behind the faulting addresses, what memory it has (smaps_rollup, the biggest mappings, VmLck), and
optional bpftrace / tracepoint counts; a finding per process naming the hot function, and a remediation
tying that function to the fix. perf missing or not permitted is "not evaluable" with the reason and
the command to run by hand, never a failed task. The host is left as found (see ``deepdive.sh``).
"""

from __future__ import annotations

import re
import shlex
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from diag.findings import Finding, Remediation, VerdictCode
from diag.playbook.modules.base import Arg, HostContext, Module, Outcome, TaskFailed, as_float, number_check
from diag.probe.deepdive import (
    GONE,
    Profile,
    build_profile,
)
from diag.probe.perf_report import parse_deepdive
from diag.shared.errors import ParseError
from diag.shared.limits import MAX_PID, MAX_PROFILED
from diag.shared.records import to_data
from diag.shared.units import fmt_kib

SCRIPT_PATH = Path(__file__).resolve().parents[2] / "probe" / "deepdive.sh"
MARGIN_S = 60.0  # perf record's start-up and the reports after the interval
_PID = number_check(1, MAX_PID, integer=True)
# What every ERE dialect (mawk, gawk, busybox) refuses too; Python's other complaints ("multiple
# repeat" for `a**`) are about regexes some awks take, and the host's awk has the last word.
_BROKEN_EVERYWHERE = ("unterminated character set", "missing ), unterminated", "unbalanced parenthesis")


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str | list) and value in ("", [], "None"))


def _pid_check(value: Any) -> str | None:
    """A pid (1 to MAX_PID), or a list of at most MAX_PROFILED (a list, or "1,2" / "1 2").

    >>> _pid_check(4242), _pid_check("1, 2"), _pid_check(-1)
    (None, None, 'must be a process id, a whole number from 1 to 4194304, got -1')
    """
    if _unset(value):
        return None
    items = value if isinstance(value, list | tuple) else str(value).replace(",", " ").split()
    if len(items) > MAX_PROFILED:
        return f"must name at most {MAX_PROFILED} processes, got {len(items)}"
    for item in items:
        number: Any = int(item) if isinstance(item, str) and re.fullmatch(r"-?\d+", item) else item
        if _PID(number):
            return f"must be a process id, a whole number from 1 to {MAX_PID}, got {value!r}"
    return None


def _regex_check(value: Any) -> str | None:
    """An extended regex the host's awk can use; what no awk takes (``[``) is refused up front.

    >>> _regex_check("^java$"), _regex_check("[")
    (None, 'is not an extended regular expression (unterminated character set at position 0)')
    """
    if _unset(value):
        return None
    with warnings.catch_warnings():  # "possible nested set" for a POSIX class such as [[:alpha:]]
        warnings.simplefilter("ignore")
        try:
            re.compile(str(value))
        except re.error as exc:
            if str(exc).startswith(_BROKEN_EVERYWHERE):
                return f"is not an extended regular expression ({exc})"
    return None


def _pids(value: Any) -> list[int]:
    if _unset(value):
        return []
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    try:
        return [int(v["pid"]) if isinstance(v, dict) else int(v) for v in items]
    except (TypeError, ValueError, KeyError):
        raise TaskFailed(f"pid must be a process id or a list of them, got {value!r}") from None


def deepdive_command(interval_s: float, top: int, match: str, pids: list[int]) -> str:
    """``sh -c '<deepdive.sh>' pfdiag INTERVAL TOP MATCH PID...``, every value quoted.

    >>> deepdive_command(5, 3, "", [42]).endswith(" pfdiag 5 3 '' 42")
    True
    """
    interval = str(int(interval_s)) if float(interval_s).is_integer() else f"{interval_s:.3f}"
    args = [interval, str(top), match, *(str(p) for p in pids)]
    return (
        "sh -c " + shlex.quote(SCRIPT_PATH.read_text()) + " pfdiag " + " ".join(shlex.quote(a) for a in args)
    )


def remedy(profile: Profile) -> Remediation | None:
    """The fix for the hot function: prefault, MAP_POPULATE, allocator (minors); page cache, mlock."""
    hot = profile.hotspot
    if not hot:
        return None
    symbol, comm, pid = hot.symbol, profile.comm, profile.pid
    memory = profile.memory
    if hot.event == "major-faults":
        target = hot.file or "its file-backed pages"
        text = (
            f"`{symbol}` in {comm}[{pid}] reads {target} back from disk, page by page. "
            "Keep it in the page cache "
            "(more memory, or a higher limit for the process's memory cgroup), read it ahead in one go "
            "(MAP_POPULATE, madvise(MADV_WILLNEED), readahead(2)), or mlock the hot part of the mapping."
        )
        commands = [f"grep -E 'VmLck|RssFile' /proc/{pid}/status", "vmstat 1 5   # bi column: pages read in"]
    else:
        text = (
            f"`{symbol}` in {comm}[{pid}] touches fresh memory (anonymous {fmt_kib(memory.anon_kib)}, "
            f"THP {fmt_kib(memory.thp_kib)}): allocate the buffer once and reuse it, "
            "prefault it at start "
            "(MAP_POPULATE, or one memset), keep the allocator from giving it back to the kernel "
            "(glibc MALLOC_TRIM_THRESHOLD_ / MALLOC_MMAP_THRESHOLD_, or jemalloc/tcmalloc), "
            "consider THP for big buffers, and mlock the hot region (mlock / MCL_FUTURE) "
            "where latency matters."
        )
        commands = [f"grep -E 'AnonHugePages|Rss' /proc/{pid}/smaps_rollup"]
    return Remediation(
        title=f"Fix the faults at their source: `{symbol}`", text=text, commands=tuple(commands)
    )


def perf_rates(profile: Profile) -> tuple[float, float] | None:
    """Minor and major faults per second as perf counted them over the interval (None: perf unusable)."""
    if not profile.perf.usable:
        return None
    counts, interval = profile.counts, profile.interval_s or 1.0
    return (counts.minor_faults or 0) / interval, (counts.major_faults or 0) / interval


def classify(profile: Profile, minflt_per_s: float, majflt_per_s: float) -> str:
    """The triage verdict this process earns, from perf's own counts over the interval.

    A major fault on an anonymous address is a swap-in; on a file, a read from disk. The profile is
    left as it is: ``classified`` returns the copy that carries the verdict and the rates.
    """
    rates = perf_rates(profile)
    if rates is None:
        return "not-evaluable"
    minor, major = rates
    if major >= majflt_per_s:
        targets = profile.targets.get("major-faults") or ()
        top = targets[0].target if targets else ""
        return "major-swap" if top in ("//anon", "[anon]", "[heap]", "[stack]") else "major-file"
    return "minor-storm" if minor >= minflt_per_s else "ok"


def classified(profile: Profile, minflt_per_s: float, majflt_per_s: float) -> Profile:
    """The profile with its verdict and perf-counted rates (rounded to 0.1/s) filled in."""
    rates = perf_rates(profile)
    minor, major = (None, None) if rates is None else (round(rates[0], 1), round(rates[1], 1))
    verdict = classify(profile, minflt_per_s, majflt_per_s)
    return replace(profile, minflt_per_s=minor, majflt_per_s=major, verdict=verdict)


class ProfileModule(Module):
    """perf deep dive of a few processes over ``interval_s`` (``playbooks/deepdive.yml``).

    Example::

        - name: Where the faults come from
          profile: {pid: "{{ pid }}", interval_s: 5}
          register: dd
    """

    name: ClassVar[str] = "profile"
    args: ClassVar[dict[str, Arg]] = {
        "pid": Arg(help="a pid, or a list of pids", check=_pid_check),
        "match": Arg(help="an extended regex: the busiest processes whose comm matches", check=_regex_check),
        "processes": Arg(default=[], help="process dicts from a sample (their pid is used)"),
        "interval_s": Arg(default=5),
        "top": Arg(
            default=3,
            help=f"at most this many processes (1 to {MAX_PROFILED})",
            check=number_check(1, MAX_PROFILED, integer=True),
        ),
        "proc_minflt_per_s": Arg(default=1000),
        "proc_majflt_per_s": Arg(default=10),
    }

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        interval_s = as_float(args["interval_s"], "interval_s") or 5.0
        top = int(as_float(args["top"], "top") or 3)
        match = "" if _unset(args.get("match")) else str(args["match"])
        pids = _pids(args.get("pid")) or ([] if match else _pids(args.get("processes")))[:top]
        if not pids and not match:
            return Outcome(
                {"processes": [], "reason": "no process to profile (no pid, no match, no culprit)"}
            )
        transport = ctx.transport()
        command = deepdive_command(interval_s, top, match, pids)
        result = transport.run(command, timeout_s=ctx.command_timeout(interval_s + MARGIN_S))
        try:
            data = parse_deepdive(result.stdout)
        except ParseError as exc:
            tail = result.stderr_tail(3) or "(no stderr)"
            raise TaskFailed(
                f"{ctx.host}: deep dive exited {result.exit_code}: {exc.render()}; {tail}"
            ) from None
        if match:
            pids = list(data.matched or ())
        limits = (
            as_float(args["proc_minflt_per_s"], "proc_minflt_per_s") or 1000.0,
            as_float(args["proc_majflt_per_s"], "proc_majflt_per_s") or 10.0,
        )
        profiles = [classified(build_profile(data, pid, interval_s), *limits) for pid in pids]
        findings: list[Finding] = []
        remediation: list[Remediation] = []
        for profile in profiles:
            finding, fix = _finding(profile, ctx.task)
            findings.append(finding)
            remediation.extend([fix] if fix is not None else [])
        code = VerdictCode.worst_known(p.verdict or VerdictCode.not_evaluable for p in profiles)
        summary = "; ".join(f"{_who(p)}: {h}" for p in profiles for h in p.headlines[:1])
        if not code.judged:
            summary = "; ".join(f"{_who(p)}: {p.perf.reason}" for p in profiles)
        registered = {  # the Jinja view: plain data
            "processes": to_data(profiles),
            "caps": dict(data.caps),
            "matched": None if data.matched is None else list(data.matched),
            "match": match or None,
            "verdict": code,
            "severity": code.severity,
            "summary": summary or "perf recorded no page-fault samples (see the findings)",
        }
        return Outcome(
            registered, findings=tuple(findings), remediation=tuple(remediation), profiles=tuple(profiles)
        )


def _who(profile: Profile) -> str:
    """``app[42]``, or ``pid 42`` for a process that was gone before its name was read."""
    return f"{profile.comm}[{profile.pid}]" if profile.comm else f"pid {profile.pid}"


def _finding(profile: Profile, task: str) -> tuple[Finding, Remediation | None]:
    """The ``fault-hotspot`` finding of one profiled process, and the fix its hot function calls for."""
    who = _who(profile)
    reason = profile.perf.reason
    if reason:
        by_hand = "" if reason == GONE else f"; run by hand: {profile.perf.command}"
        skipped = Finding(
            check="fault-hotspot",
            task=task,
            status="skip",
            severity="info",
            message=f"{who}: where the faults come from is not evaluable",
            reason=f"{who}: {reason}{by_hand}",
        )
        return skipped, None
    counted = profile.counts.page_faults or 0
    message = "; ".join(profile.headlines) or (
        f"perf stat counted {counted:,} page faults but perf record took no sample of them"
        if counted
        else "no page faults during the interval"
    )
    finding = Finding(
        check="fault-hotspot",
        task=task,
        status="fail" if profile.hotspot else "pass",
        severity="info",
        message=f"{who}: {message}",
        value=profile.counts.page_faults,
        evidence={"hotspot": to_data(profile.hotspot), "memory": to_data(profile.memory)},
    )
    return finding, remedy(profile)
