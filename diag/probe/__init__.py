"""The probe stage: the POSIX-sh script run on a host (probe.sh) and pure parsers of its output.

In: nothing but a transport to run ``probe_command()``/``facts_command()``. Out: ``Sample``
(``parse_probe``) and the facts dict (``parse_facts``); both raise ParseError quoting the bad line.
"""

from diag.probe.facts import parse_facts
from diag.probe.sample import Sample, parse_probe
from diag.probe.script import facts_command, probe_command

__all__ = ["Sample", "facts_command", "parse_facts", "parse_probe", "probe_command"]
