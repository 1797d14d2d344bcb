"""``python -m diag``: the same as the ``pfdiag`` command."""

from diag.cli import entry

entry()
