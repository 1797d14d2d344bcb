"""``pfdiag inventory``: an inventory shown as ``ansible-inventory`` shows it.

In: the ``-i`` values, the working directory and the view (``--list`` by default, ``--graph``,
``--host NAME``). Out: the text to print: JSON (indented 4, keys sorted, as ansible-inventory) or the
graph with host text escaped (a name from a plugin may hold control characters).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from diag.inventory.sources import load_inventory
from diag.shared.errors import InventoryError
from diag.shared.escape import escape_lines


def show_inventory(sources: Sequence[str], cwd: Path, *, graph: bool = False, host: str | None = None) -> str:
    """Load the inventory and render the one view asked for."""
    inv = load_inventory(list(sources), cwd=cwd)
    if graph:
        return escape_lines(inv.graph())
    if host:
        if host not in inv.hosts:
            raise InventoryError(f"host {host!r} is not in the inventory")
        return json.dumps(inv.host_vars_json(host), indent=4, sort_keys=True, default=str)
    return json.dumps(inv.to_list_json(), indent=4, sort_keys=True, default=str)
