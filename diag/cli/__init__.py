"""The command line: argv -> one library call -> exit code.

In: ``sys.argv``. Out: an exit code (``ExitCode``), with the library's text on stdout/stderr.
"""

from diag.cli.main import ExitCode, build_parser, entry, main

__all__ = ["ExitCode", "build_parser", "entry", "main"]
