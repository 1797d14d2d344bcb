"""What a probe source declares: the file it reads, how often, and its pure parser.

In: nothing (declarations only). Out: ``Source`` records; each /proc or /sys module of this package
declares its own (``vmstat.SOURCE``, ``buddyinfo.SOURCE``, ...), ``diag.probe.sources`` lists them,
the probe script gets its file list from them and ``parse_probe`` dispatches on them by path.

- ``TWICE``: read at both snapshots (counters: the rate is Δ over the interval);
- ``ONCE``: read once, after the second snapshot (a state: free blocks, swap areas, node count).

The reducer reads the files itself with awk's getline (one process for all reads); ``via_cat``
files are read by ``cat`` in the shell instead, so that ENOENT and EOPNOTSUPP keep their errno text
(PSI: absent kernel support and ``psi=0`` are different answers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

TWICE = "twice"
ONCE = "once"


@dataclass(frozen=True, slots=True)
class Source:
    """One file the probe reads and the parser of its lines (raises ParseError quoting a bad line)."""

    name: str  # the key of its parsed value in a snapshot (``vmstat``, ``pressure/memory``)
    path: str
    read: str  # TWICE or ONCE
    parse: Callable[[Sequence[str], str], Any]
    via_cat: bool = False
    skip_zero_rows: bool = False  # drop rows whose 4th.. fields are all "0" (diskstats: idle devices)
    # The names the parser's readers use, when they are a few of many: the host sends only the lines
    # whose first word (a trailing ``:`` cut) is one of them or starts with one and ``_`` (per-zone and
    # split counters: ``allocstall_normal``, ``workingset_refault_file``). Empty: every line.
    keep: tuple[str, ...] = ()

    def spec(self) -> str:
        """How the script's argument names this file: ``z:PATH`` when zero rows are dropped,
        ``k:PATH=NAME,NAME`` when only the ``keep`` names are sent, else ``-:PATH``.

        >>> from diag.probe.diskstats import SOURCE
        >>> SOURCE.spec()
        'z:/proc/diskstats'
        >>> Source("x", "/proc/x", TWICE, lambda lines, path: None, keep=("a", "b")).spec()
        'k:/proc/x=a,b'
        """
        if self.keep:
            return f"k:{self.path}={','.join(self.keep)}"
        return ("z:" if self.skip_zero_rows else "-:") + self.path
