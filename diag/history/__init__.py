"""Audit history: the SQLite store (``store``), the diff between two audits (``diff``), and each
host's usual rates (``baseline``), which ``run`` and ``watch`` compare with.

In: finished runs (``RunResult``) of ``pfdiag audit``. Out: rows in one SQLite file, and the
``new`` / ``persisting`` / ``resolved`` / ``unknown`` problems of an audit against the previous complete
audit of the same scope (playbook + inventory + limit). Here: where the history file is.
"""

from __future__ import annotations

import os
from pathlib import Path

HISTORY_ENV = "PFDIAG_HISTORY"


def history_path(given: Path | None, cwd: Path) -> Path:
    """``--history``, else ``$PFDIAG_HISTORY``, else ``reports/history.sqlite`` (relative to the cwd)."""
    path = given or (
        Path(os.environ[HISTORY_ENV]) if os.environ.get(HISTORY_ENV) else Path("reports/history.sqlite")
    )
    return path if path.is_absolute() else cwd / path
