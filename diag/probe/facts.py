"""Parse the probe's ``facts`` section (``key=value`` lines; ``!key=reason`` when unreadable) into the
``Facts`` record, plus the reasons for facts that are None.

The one-line files a fact is read from are declared here (``FILE_FACTS``) and handed to the probe
script, which prints ``key=<first line>`` for each (``!key=unreadable PATH`` when it cannot).

>>> facts, missing = parse_facts_lines(["hostname=vm", "thp_enabled=always [madvise] never",
...     "zswap_enabled=N", "min_free_kbytes=67584",
...     "!numa_balancing=unreadable /proc/sys/kernel/numa_balancing"])
>>> facts.thp_enabled, facts.zswap_enabled, facts.numa_balancing, facts.min_free_kbytes, missing
('madvise', False, None, 67584, {'numa_balancing': 'unreadable /proc/sys/kernel/numa_balancing'})
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from diag.probe.sections import split_sections
from diag.shared.errors import ParseError
from diag.shared.records import to_data

# fact -> the file whose first line it is
FILE_FACTS = {
    "hostname": "/proc/sys/kernel/hostname",
    "kernel": "/proc/sys/kernel/osrelease",
    "swappiness": "/proc/sys/vm/swappiness",
    "numa_balancing": "/proc/sys/kernel/numa_balancing",
    "zswap_enabled": "/sys/module/zswap/parameters/enabled",
    "boot_id": "/proc/sys/kernel/random/boot_id",
    "zone_reclaim_mode": "/proc/sys/vm/zone_reclaim_mode",
    "compaction_proactiveness": "/proc/sys/vm/compaction_proactiveness",  # 5.9+
    "min_free_kbytes": "/proc/sys/vm/min_free_kbytes",
    "watermark_scale_factor": "/proc/sys/vm/watermark_scale_factor",  # 4.6+
    "overcommit_memory": "/proc/sys/vm/overcommit_memory",
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What kind of host this is: static settings read once per probe (None: unknown, reason given)."""

    hostname: str | None = None
    kernel: str | None = None
    cpus: int | None = None
    clk_tck: int | None = None
    page_size: int | None = None
    mem_total_kib: int | None = None
    swap_total_kib: int | None = None
    thp_enabled: str | None = None
    thp_defrag: str | None = None
    swappiness: int | None = None
    numa_balancing: int | None = None
    zswap_enabled: bool | None = None
    hidepid: str | None = None
    perf_usable: bool | None = None
    perf_reason: str | None = None
    cgroup_version: int | None = None
    boot_id: str | None = None
    zone_reclaim_mode: int | None = None
    compaction_proactiveness: int | None = None
    min_free_kbytes: int | None = None
    watermark_scale_factor: int | None = None
    overcommit_memory: int | None = None


FACT_KEYS = tuple(f.name for f in dataclasses.fields(Facts))
INT_KEYS = tuple(f.name for f in dataclasses.fields(Facts) if f.type == "int | None")


def _selected(value: str) -> str:
    # THP files list every choice and bracket the active one: "always [madvise] never"
    match = re.search(r"\[([^\]]+)\]", value)
    return match.group(1) if match else value.strip()


def _value(key: str, value: str) -> object:
    if key in INT_KEYS:
        try:
            return int(value.strip())
        except ValueError:
            return None
    if key in ("thp_enabled", "thp_defrag"):
        return _selected(value)
    if key == "zswap_enabled":
        return value.strip() in ("Y", "1")
    if key == "perf_usable":
        return value == "1"
    if key in ("perf_reason", "hidepid", "boot_id"):
        return value.strip() or None
    return value


def parse_facts_lines(lines: Sequence[str]) -> tuple[Facts, dict[str, str]]:
    """The Facts record (None where unknown) and {fact: reason} for the Nones."""
    values: dict[str, object] = {}
    missing: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise ParseError(f"expected key=value: {line!r}", where="probe facts")
        if key.startswith("!"):
            missing[key[1:]] = value
        elif key == "cgroup_version":
            values[key] = 2 if value == "2" else 1  # "hybrid": the memory controller is still v1
        elif key in FACT_KEYS:
            values[key] = _value(key, value)
    return Facts(**values), missing  # type: ignore[arg-type]


def read_facts(text: str) -> Facts:
    """The facts of a ``facts_command()`` (or probe) output; ParseError without a facts section."""
    for section in split_sections(text):
        if section.kind == "facts":
            return parse_facts_lines(section.lines)[0]
    raise ParseError("no '@@pfdiag facts' section in the output", where="probe output")


def parse_facts(text: str) -> dict[str, object]:
    """``read_facts`` as plain data (the ``facts`` dict of the README)."""
    data: dict[str, object] = to_data(read_facts(text))
    return data


def blockdevs_of(lines: Sequence[str]) -> tuple[str, ...] | None:
    """The ``/sys/block`` names the probe listed, or None when /sys/block was not readable."""
    for line in lines:
        if line.startswith("blockdevs="):
            names = tuple(line[len("blockdevs=") :].split())
            return names or None
    return None
