"""``python -m diag``: the same as the ``pfdiag`` command."""

import sys

from diag.cli import main

sys.exit(main())
