"""The deep dive's section of ``report.md``: "Where the faults come from", per host and process.

In: the ``profiles`` the ``profile`` module left on each ``HostResult``. Out: markdown lines (none
when no host was profiled): the headline naming the hot function and its binary, the top symbols
and call chains with their share, the files behind the faulting addresses, the memory the process
holds (anonymous, file, shmem, THP, locked) and its biggest mappings, and what could not be measured.
"""

from __future__ import annotations

from diag.findings import RunResult
from diag.probe.deepdive import Profile
from diag.report.details import table
from diag.shared.escape import escape_markdown, md_code, md_fence, md_with_code
from diag.shared.units import fmt_kib

EVENT_NAMES = {"page-faults": "page faults", "major-faults": "major faults"}


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{int(value):,}"


MEMORY_LABELS = (
    ("rss_kib", "RSS"),
    ("anon_kib", "anonymous"),
    ("file_kib", "file"),
    ("shmem_kib", "shmem"),
    ("thp_kib", "THP"),
    ("swap_kib", "swap"),
    ("lck_kib", "VmLck"),
)


def _counted(profile: Profile) -> list[str]:
    """What perf counted and the headlines naming the hot function (perf usable), else how to run it."""
    perf, counts = profile.perf, profile.counts
    if not perf.usable:
        return [
            f"Not evaluable: {escape_markdown(perf.reason)}. Run by hand:",
            "",
            *md_fence([perf.command]),
            "",
        ]
    tracepoint = (
        f"; the `exceptions:page_fault_user` tracepoint {_count(counts.page_fault_user)}."
        if counts.page_fault_user is not None
        else "."
    )
    out = [
        f"Over {profile.interval_s:g} s perf counted {_count(counts.page_faults)} page faults "
        f"({_count(counts.minor_faults)} minor, {_count(counts.major_faults)} major){tracepoint}",
        "",
    ]
    headlines = profile.headlines or ("perf sampled no page faults",)
    return out + [f"- **{md_with_code(line)}**" for line in headlines] + [""]


def _events(profile: Profile) -> list[str]:
    """Per event: the top functions, their call chains, and where the faulting addresses land."""
    out: list[str] = []
    for event, symbols in profile.symbols.items():
        if not symbols:
            continue
        rows = [[f"{s.pct:.1f} %", md_code(s.symbol), s.dso] for s in symbols]
        out += [
            f"Top functions ({EVENT_NAMES.get(event, event)}):",
            "",
            table(rows, ["share", "function", "binary"]),
            "",
        ]
        chains = profile.chains.get(event) or ()
        if chains:
            lines = [f"{c.pct:5.1f} %  " + " ← ".join(reversed(c.chain)) for c in chains]
            out += ["Call chains (innermost first):", "", *md_fence(lines), ""]
        targets = profile.targets.get(event) or ()
        if targets:
            where = ", ".join(f"{escape_markdown(t.target)} {t.pct:.0f} %" for t in targets)
            out += [f"Faulting addresses land in: {where}.", ""]
    return out


def _process(host: str, profile: Profile) -> list[str]:
    who = f"{md_code(profile.comm or '?')}[{escape_markdown(profile.pid)}]"
    exe = f"({escape_markdown(profile.exe)})" if profile.exe else ""
    out = [f"### {escape_markdown(host)}: {who} {exe}".rstrip(), ""]
    out += _counted(profile) + _events(profile)
    memory = profile.memory
    if any(getattr(memory, key) is not None for key in memory.__slots__):
        held = ", ".join(f"{label} {fmt_kib(getattr(memory, key))}" for key, label in MEMORY_LABELS)
        out += [f"Memory: {held}.", ""]
    if profile.mappings:
        rows = [[fmt_kib(m.rss_kib), m.perms, m.path] for m in profile.mappings[:5]]
        out += ["Biggest mappings:", "", table(rows, ["RSS", "perms", "mapping"]), ""]
    if profile.not_evaluable:
        missing = "; ".join(f"{k}: {v}" for k, v in sorted(profile.not_evaluable.items()))
        out += [f"Not measured: {escape_markdown(missing)}.", ""]
    return out


def deepdive_section(run: RunResult) -> list[str]:
    """ "## Where the faults come from", or nothing when the run profiled no process."""
    profiled = [(h.host, p) for h in run.hosts for p in h.profiles]
    if not profiled:
        return []
    out = ["## Where the faults come from", ""]
    for host, profile in profiled:
        out += _process(host, profile)
    return out
