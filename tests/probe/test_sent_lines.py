"""Of /proc/vmstat and /proc/meminfo the probe sends only the lines their parsers read (``Source.keep``):
what the parsers make of the lines sent is what they make of the whole file, on captures from kernels
3.13 to 6.6 and on this machine's live files, through the probe's own awk in dash and busybox ash; and
of /proc/diskstats every row but the all-zero ones, whatever row comes first."""

from __future__ import annotations

from pathlib import Path

import pytest

from diag.probe.diskstats import SOURCE as DISKSTATS
from diag.probe.meminfo import SOURCE as MEMINFO
from diag.probe.meminfo import memory_values
from diag.probe.source import Source
from diag.probe.vmstat import SOURCE as VMSTAT
from diag.probe.vmstat import vmstat_rates
from tests.fixtures.sent_lines import sent_lines
from tests.probe.conftest import capture

SHELLS = [("/bin/sh",), ("busybox", "ash")]
VMSTATS = [
    "prometheus__node_exporter__proc-vmstat.txt",  # ~4.4: per-zone pgscan_direct_*, one workingset_refault
    "jds2001__coreos-sosreport-master1__proc-vmstat.txt",  # 4.18
    "linux-mailinglist-archives__linux-xfs.vger.kernel.org.0__bug216007-c13-vmstat.txt",  # 5.13
    "CRYP70N1CZ__syslogs__vmstat.txt",  # 6.6, no numa_*
    "/proc/vmstat",
]
MEMINFOS = [
    "csm-csci442__proc-snapshot__meminfo.txt",  # 3.13: no MemAvailable
    "jds2001__coreos-sosreport-master1__proc-meminfo.txt",
    "/proc/meminfo",
]


def text_of(name: str) -> str:
    return Path(name).read_text() if name.startswith("/") else capture(name)


def later(text: str) -> str:
    """The same file a little later: every counter grown by a different amount (the k-th by 7k + 3)."""
    lines = []
    for k, line in enumerate(text.splitlines()):
        name, value, *unit = line.split()
        lines.append(" ".join([name, str(int(value) + 7 * k + 3), *unit]))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
@pytest.mark.parametrize("name", VMSTATS)
def test_the_vmstat_lines_sent_give_every_rate_the_whole_file_gives(
    shell: tuple[str, ...], name: str, tmp_path: Path
) -> None:
    first, second = text_of(name), later(text_of(name))
    (tmp_path / "a").write_text(first)
    (tmp_path / "b").write_text(second)
    sent_a, sent_b = sent_lines(VMSTAT, tmp_path / "a", shell), sent_lines(VMSTAT, tmp_path / "b", shell)
    whole_ne: dict[str, str] = {}
    sent_ne: dict[str, str] = {}
    whole_a, whole_b = VMSTAT.parse(first.splitlines(), name), VMSTAT.parse(second.splitlines(), name)
    whole = vmstat_rates(whole_a, whole_b, 2.0, whole_ne)
    kept = vmstat_rates(VMSTAT.parse(sent_a, name), VMSTAT.parse(sent_b, name), 2.0, sent_ne)
    assert kept == whole
    assert sent_ne == whole_ne
    assert whole["pgfault_per_s"] is not None and whole["pgfault_per_s"] > 0
    assert len(sent_a) <= len(first.splitlines()) / 3  # ~25-35 of ~100-190 lines
    assert set(sent_a) <= set(first.splitlines())  # lines as the kernel printed them


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
@pytest.mark.parametrize("name", MEMINFOS)
def test_the_meminfo_lines_sent_give_the_memory_the_whole_file_gives(
    shell: tuple[str, ...], name: str, tmp_path: Path
) -> None:
    whole_text = text_of(name)
    (tmp_path / "m").write_text(whole_text)
    lines = sent_lines(MEMINFO, tmp_path / "m", shell)
    whole_ne: dict[str, str] = {}
    sent_ne: dict[str, str] = {}
    whole = memory_values(MEMINFO.parse(whole_text.splitlines(), name), whole_ne)
    assert memory_values(MEMINFO.parse(lines, name), sent_ne) == whole
    assert sent_ne == whole_ne
    assert whole.mem_total_kib
    assert len(lines) <= len(MEMINFO.keep)
    assert set(lines) <= set(whole_text.splitlines())


def test_a_file_without_a_keep_list_is_sent_whole(tmp_path: Path) -> None:
    path = tmp_path / "vmstat"
    path.write_text("pgfault 5\nnr_free_pages 7\n")
    whole = Source("x", "/proc/x", "twice", lambda lines, where: None)
    assert sent_lines(whole, path) == ["pgfault 5", "nr_free_pages 7"]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
@pytest.mark.parametrize("name", ["prometheus__procfs__proc-diskstats.txt", "/proc/diskstats"])
def test_every_diskstats_row_with_a_nonzero_counter_is_sent(
    shell: tuple[str, ...], name: str, tmp_path: Path
) -> None:
    """Idle devices (every counter 0) first, then busy ones: each busy row is sent, each idle one is not
    (a counter of the keep filter once shared a name with the zero-row check's and cut every row after
    the first)."""
    rows = text_of(name).splitlines()
    idle = [" ".join([*row.split()[:3], *["0"] * (len(row.split()) - 3)]) for row in rows]
    path = tmp_path / "diskstats"
    path.write_text("\n".join([*idle, *rows]) + "\n")
    busy = [row for row in rows if any(field != "0" for field in row.split()[3:])]
    assert len(busy) >= 1
    assert sent_lines(DISKSTATS, path, shell) == busy
