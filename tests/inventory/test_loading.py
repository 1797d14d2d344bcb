"""load_inventory: sources, folder rules, INI values, precedence, errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from diag.inventory import Host, load_inventory
from diag.inventory.ini import parse_value
from diag.inventory.ranges import expand_host_pattern
from diag.shared.errors import InventoryError
from tests.inventory.conftest import DATA

ERRORS = DATA / "errors"


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("bad_range", 3, "equal-length"),
        ("bad_section", 4, "Invalid section entry: '[web servers]'"),
        ("undefined_child", 6, "includes undefined group 'missing_group'"),
        ("vars_without_group", 3, "[db:vars] not valid for undefined group"),
        ("bad_host_var", 2, "Expected key=value host variable assignment"),
        ("bad_yaml.yml", 4, "YAML syntax error"),
        ("list.yml", 1, "should be a mapping of groups"),
    ],
)
def test_bad_inventory_raises_one_error_naming_file_and_line(name: str, line: int, words: str) -> None:
    with pytest.raises(InventoryError) as caught:
        load_inventory([str(ERRORS / name)])
    assert caught.value.where == f"{ERRORS / name}:{line}"
    assert words in caught.value.message


def test_missing_source_says_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as caught:
        load_inventory(["prod"], cwd=tmp_path)
    assert str(tmp_path / "prod") in caught.value.message
    assert str(tmp_path / "inventories" / "prod") in caught.value.message


def test_unreadable_file_is_an_inventory_error(tmp_path: Path) -> None:
    broken = tmp_path / "hosts"
    broken.write_bytes(b"[web]\nh\xff\n")
    with pytest.raises(InventoryError, match="not UTF-8"):
        load_inventory([str(broken)])


def test_bare_name_prefers_an_existing_path_over_inventories(tmp_path: Path) -> None:
    (tmp_path / "inventories").mkdir()
    (tmp_path / "inventories" / "prod").write_text("from_inventories_dir\n")
    (tmp_path / "prod").write_text("from_cwd\n")
    assert list(load_inventory(["prod"], cwd=tmp_path).hosts) == ["from_cwd"]


def test_folder_source_skips_ignored_names_and_reads_subfolders() -> None:
    inv = load_inventory([str(DATA / "folder")])
    assert list(inv.hosts) == ["web1", "web2", "db1", "late1"]
    assert inv.hosts["web1"].groups == ("db", "late", "web")
    # web is a child of db (02-db.yml), so group_vars/db.yml reaches web1 too
    assert inv.hosts["web1"].vars == {"folder_all": True, "db_port": 5432, "role": "primary"}


def test_several_sources_merge_into_one_inventory() -> None:
    inv = load_inventory([str(DATA / "twins" / "hosts.ini"), "extra1,extra2"])
    assert list(inv.hosts) == ["ctl", "web1", "web2", "extra1", "extra2"]
    assert inv.hosts["extra1"].groups == ("ungrouped",)


def test_precedence_child_beats_parent_and_priority_beats_name() -> None:
    hosts = load_inventory([str(DATA / "precedence" / "hosts")]).hosts
    # web1: web (depth 2) and zz_late (depth 1); group_vars/web/ beats every inventory group var
    assert hosts["web1"].vars["colour"] == "from_web_dir"
    assert hosts["web1"].vars["web_files"] == ["second"]
    assert hosts["web1"].vars["who"] == "host_vars_file"
    # web2: web and db at the same depth; db has ansible_group_priority=5, so db wins over web
    assert hosts["web2"].vars["colour"] == "from_web_dir"
    assert hosts["web2"].vars["level"] == "group_vars_all"
    assert hosts["db1"].vars["colour"] == "red"
    assert hosts["db1"].vars["ansible_port"] == 2201


def test_connection_vars_are_kept_as_given() -> None:
    host = load_inventory([str(DATA / "ranges" / "hosts")]).hosts["db1"]
    assert host == Host("db1", {}, ("ports",))
    assert host.vars == {"ansible_port": 5432, "ansible_user": "postgres"}


@pytest.mark.parametrize(
    ("text", "value"),
    [("2", 2), ("true", "true"), ("True", True), ("['/dev/sda']", ["/dev/sda"]), ("{{ x }}", "{{ x }}"),
     ("(1, 2)", [1, 2]), ("1j", "1j"), ("...", "..."), ("", "")],
)  # fmt: skip
def test_ini_value_is_a_python_literal_or_the_text(text: str, value: object) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize(
    ("pattern", "hosts"),
    [
        ("web[01:03]", ["web01", "web02", "web03"]),
        ("n[1:10:4]", ["n1", "n5", "n9"]),
        ("x[a:c]", ["xa", "xb", "xc"]),
        ("m[:2]", ["m0", "m1", "m2"]),
        ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"]),
    ],
)
def test_host_ranges_expand_like_ansible(pattern: str, hosts: list[str]) -> None:
    assert expand_host_pattern(pattern) == (hosts, None)
