"""Parse the probe's ``facts`` section (``key=value`` lines; ``!key=reason`` when unreadable)
into the ``facts`` dict of ``Sample.as_vars()``, plus the reasons for facts that are None.

>>> facts, missing = parse_facts_lines(["hostname=vm", "thp_enabled=always [madvise] never",
...     "zswap_enabled=N", "!numa_balancing=unreadable /proc/sys/kernel/numa_balancing"])
>>> facts["thp_enabled"], facts["zswap_enabled"], facts["numa_balancing"], missing
('madvise', False, None, {'numa_balancing': 'unreadable /proc/sys/kernel/numa_balancing'})
"""

from __future__ import annotations

import re

from diag.errors import ParseError
from diag.probe.sections import split_sections

FACT_KEYS = (
    "hostname", "kernel", "cpus", "clk_tck", "page_size", "mem_total_kib", "swap_total_kib", "thp_enabled",
    "thp_defrag", "swappiness", "numa_balancing", "zswap_enabled", "hidepid", "perf_usable", "perf_reason",
    "cgroup_version",
)  # fmt: skip
INT_KEYS = ("cpus", "clk_tck", "page_size", "mem_total_kib", "swap_total_kib", "swappiness", "numa_balancing")


def _selected(value: str) -> str:
    # THP files list every choice and bracket the active one: "always [madvise] never"
    match = re.search(r"\[([^\]]+)\]", value)
    return match.group(1) if match else value.strip()


def parse_facts_lines(lines: tuple[str, ...] | list[str]) -> tuple[dict[str, object], dict[str, str]]:
    """Facts dict (every key of FACT_KEYS, None when unknown) and {fact: reason} for the Nones."""
    raw: dict[str, str] = {}
    missing: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise ParseError(f"expected key=value: {line!r}", where="probe facts")
        if key.startswith("!"):
            missing[key[1:]] = value
        else:
            raw[key] = value
    facts: dict[str, object] = {key: None for key in FACT_KEYS}
    for key, value in raw.items():
        if key in INT_KEYS:
            facts[key] = int(value) if value.strip().lstrip("-").isdigit() else None
        elif key in ("thp_enabled", "thp_defrag"):
            facts[key] = _selected(value)
        elif key == "zswap_enabled":
            facts[key] = value.strip() in ("Y", "1")
        elif key == "perf_usable":
            facts[key] = value == "1"
        elif key == "cgroup_version":
            facts[key] = 2 if value == "2" else 1  # "hybrid": the memory controller is still v1
        elif key in ("perf_reason", "hidepid"):
            facts[key] = value or None
        elif key in FACT_KEYS:
            facts[key] = value
    return facts, missing


def parse_facts(text: str) -> dict[str, object]:
    """The facts of a ``facts_command()`` (or probe) output; ParseError without a facts section."""
    for section in split_sections(text):
        if section.kind == "facts":
            return parse_facts_lines(section.lines)[0]
    raise ParseError("no '@@pfdiag facts' section in the output", where="probe output")


def blockdevs_of(lines: tuple[str, ...] | list[str]) -> tuple[str, ...] | None:
    """The ``/sys/block`` names the probe listed, or None when /sys/block was not readable."""
    for line in lines:
        if line.startswith("blockdevs="):
            names = tuple(line[len("blockdevs=") :].split())
            return names or None
    return None
