"""Inventory.select(pattern) picks the hosts, in order, that `ansible all --list-hosts -l PATTERN` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from diag.inventory import Inventory, implicit_localhost, load_inventory
from diag.shared.errors import InventoryError
from tests.inventory.conftest import DATA, ansible_list_hosts, needs_ansible

SOURCES = [str(DATA / "precedence" / "hosts"), str(DATA / "ranges" / "hosts")]
PATTERNS = [
    "all",
    "*",
    "web",
    "web:db",
    "web,db",
    "db,web",
    "top:&db",
    "top:!web",
    "!web",
    "web*",
    "*.example.com",
    "~web\\d",
    "~^(db|node)",
    "top[0]",
    "top[-1]",
    "top[0:1]",
    "stride[1:]",
    "web1:zz_late",
    "ungrouped",
    "ports:!db1:&db*",
    "nomatch",
    "web1:nomatch",
]


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(SOURCES)


@needs_ansible
@pytest.mark.parametrize("pattern", PATTERNS)
def test_select_matches_ansible_list_hosts(pattern: str, inventory: Inventory, tmp_path: Path) -> None:
    assert [h.name for h in inventory.select(pattern)] == ansible_list_hosts(SOURCES, tmp_path, pattern)


@needs_ansible
def test_select_reads_at_file_one_pattern_per_line(inventory: Inventory, tmp_path: Path) -> None:
    limit = tmp_path / "limit.txt"
    limit.write_text("db1\nnode*\n\n")
    got = [h.name for h in inventory.select(f"@{limit}")]
    assert got == ansible_list_hosts(SOURCES, tmp_path, f"@{limit}")
    assert got


def test_unmatched_pattern_gives_empty_selection_with_ansible_warning(inventory: Inventory) -> None:
    selection = inventory.select("nomatch")
    assert list(selection) == []
    assert "Could not match supplied host pattern, ignoring: nomatch" in selection.warnings


def test_bad_regex_pattern_raises_inventory_error(inventory: Inventory) -> None:
    with pytest.raises(InventoryError, match="Invalid host list pattern"):
        inventory.select("~web(")


def test_subscript_out_of_range_raises_inventory_error(inventory: Inventory) -> None:
    with pytest.raises(InventoryError, match="subscripted pattern"):
        inventory.select("web[9]")


def test_missing_limit_file_raises_inventory_error(inventory: Inventory, tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="Unable to find limit file"):
        inventory.select(f"@{tmp_path / 'nope'}")


def test_implicit_localhost_matches_its_name_but_not_all() -> None:
    inv = implicit_localhost()
    assert [h.name for h in inv.select("localhost")] == ["localhost"]
    assert inv.hosts["localhost"].vars == {"ansible_connection": "local"}
    assert list(inv.select("all")) == []
    assert inv.to_list_json() == {
        "_meta": {"hostvars": {}, "profile": "inventory_legacy"},
        "all": {"children": ["ungrouped"]},
    }
