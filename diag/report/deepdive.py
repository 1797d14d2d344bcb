"""The deep dive's section of ``report.md``: "Where the faults come from", per host and process.

In: the ``profiles`` the ``profile`` module left on each ``HostResult``. Out: markdown lines (none
when no host was profiled): the headline naming the hot function and its binary, the top symbols
and call chains with their share, the files behind the faulting addresses, the memory the process
holds (anonymous, file, shmem, THP, locked) and its biggest mappings, and what could not be measured.
"""

from __future__ import annotations

from typing import Any

from diag.findings import RunResult
from diag.report.details import table
from diag.shared.escape import escape_markdown, md_code, md_fence, md_with_code
from diag.shared.units import fmt_kib

EVENT_NAMES = {"page-faults": "page faults", "major-faults": "major faults"}


def _count(value: Any) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def _process(host: str, profile: dict[str, Any]) -> list[str]:
    who = f"{md_code(profile.get('comm') or '?')}[{escape_markdown(profile['pid'])}]"
    exe = f"({escape_markdown(profile['exe'])})" if profile.get("exe") else ""
    out = [f"### {escape_markdown(host)}: {who} {exe}".rstrip(), ""]
    perf = profile.get("perf") or {}
    if not perf.get("usable"):
        out += [
            f"Not evaluable: {escape_markdown(perf.get('reason'))}. Run by hand:",
            "",
            *md_fence([str(perf.get("command", ""))]),
            "",
        ]
    counts = profile.get("counts") or {}
    if perf.get("usable"):
        out += [
            f"Over {profile.get('interval_s'):g} s perf counted "
            f"{_count(counts.get('page_faults'))} page faults "
            f"({_count(counts.get('minor_faults'))} minor, {_count(counts.get('major_faults'))} major)"
            + (
                f"; the `exceptions:page_fault_user` tracepoint {_count(counts['page_fault_user'])}."
                if counts.get("page_fault_user") is not None
                else "."
            ),
            "",
        ]
        headlines = profile.get("headlines") or ["perf sampled no page faults"]
        out += [f"- **{md_with_code(line)}**" for line in headlines] + [""]
    for event, symbols in (profile.get("symbols") or {}).items():
        if not symbols:
            continue
        rows = [[f"{s['pct']:.1f} %", md_code(s["symbol"]), s["dso"]] for s in symbols]
        out += [
            f"Top functions ({EVENT_NAMES.get(event, event)}):",
            "",
            table(rows, ["share", "function", "binary"]),
            "",
        ]
        chains = (profile.get("chains") or {}).get(event) or []
        if chains:
            lines = [f"{c['pct']:5.1f} %  " + " ← ".join(reversed(c["chain"])) for c in chains]
            out += ["Call chains (innermost first):", "", *md_fence(lines), ""]
        targets = (profile.get("targets") or {}).get(event) or []
        if targets:
            where = ", ".join(f"{escape_markdown(t['target'])} {t['pct']:.0f} %" for t in targets)
            out += [f"Faulting addresses land in: {where}.", ""]
    memory = profile.get("memory") or {}
    if any(v is not None for v in memory.values()):
        out += [
            "Memory: "
            + ", ".join(
                f"{label} {fmt_kib(memory.get(key))}"
                for key, label in (
                    ("rss_kib", "RSS"),
                    ("anon_kib", "anonymous"),
                    ("file_kib", "file"),
                    ("shmem_kib", "shmem"),
                    ("thp_kib", "THP"),
                    ("swap_kib", "swap"),
                    ("lck_kib", "VmLck"),
                )
            )
            + ".",
            "",
        ]
    mappings = profile.get("mappings") or []
    if mappings:
        rows = [[fmt_kib(m["rss_kib"]), m["perms"], m["path"]] for m in mappings[:5]]
        out += ["Biggest mappings:", "", table(rows, ["RSS", "perms", "mapping"]), ""]
    skipped = profile.get("not_evaluable") or {}
    if skipped:
        missing = "; ".join(f"{k}: {v}" for k, v in sorted(skipped.items()))
        out += [f"Not measured: {escape_markdown(missing)}.", ""]
    return out


def deepdive_section(run: RunResult) -> list[str]:
    """ "## Where the faults come from", or nothing when the run profiled no process."""
    profiled = [(h.host, p) for h in run.hosts for p in getattr(h, "profiles", None) or []]
    if not profiled:
        return []
    out = ["## Where the faults come from", ""]
    for host, profile in profiled:
        out += _process(host, profile)
    return out
