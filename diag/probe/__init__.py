"""The probe stage: the POSIX-sh script run on a host (probe.sh), one module per /proc or /sys source
(what it reads, its pure parser, how two readings become values) and the typed records of a sample.

In: nothing but a transport to run ``probe_command()``/``facts_command()``. Out: ``HostSample``
(``parse_probe``; ``Sample`` is the same class) and ``Facts`` (``read_facts``; ``parse_facts`` gives
it as a dict); all raise ParseError quoting the bad line.
"""

from diag.probe.facts import Facts, parse_facts, read_facts
from diag.probe.measurements import HostSample
from diag.probe.sample import Sample, parse_probe
from diag.probe.script import facts_command, probe_command

__all__ = [
    "Facts", "HostSample", "Sample", "facts_command", "parse_facts", "parse_probe", "probe_command",
    "read_facts",
]  # fmt: skip
