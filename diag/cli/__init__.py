"""The command line: argv -> one library call -> exit code.

In: ``sys.argv``. Out: an exit code (``ExitCode``), with the library's text on stdout/stderr.
"""

from diag.cli.exits import ExitCode
from diag.cli.main import entry, main
from diag.cli.options import build_parser

__all__ = ["ExitCode", "build_parser", "entry", "main"]
