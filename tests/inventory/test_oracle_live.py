"""Our own edge-case inventories, read by load_inventory and by the real ansible-inventory, must agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from diag.inventory import load_inventory
from tests.inventory.conftest import DATA, ansible_inventory, ansible_list, needs_ansible

pytestmark = needs_ansible

LIST_CASES = [
    ["ranges/hosts"],
    ["precedence/hosts"],
    ["twins/hosts.ini"],
    ["twins/hosts.yml"],
    ["twins/hosts.json"],
    ["folder"],
    ["values/hosts"],
    ["yaml_shapes/inventory.yaml"],
    ["precedence/hosts", "twins/hosts.yml", "folder"],
]


def _sources(names: list[str]) -> list[str]:
    return [str(DATA / name) for name in names]


@pytest.mark.parametrize("names", LIST_CASES, ids=["+".join(c) for c in LIST_CASES])
def test_list_json_equals_ansible_inventory_list(names: list[str], tmp_path: Path) -> None:
    sources = _sources(names)
    assert load_inventory(sources, cwd=tmp_path).to_list_json() == ansible_list(sources, tmp_path)


@pytest.mark.parametrize("names", [["precedence/hosts"], ["yaml_shapes/inventory.yaml"], ["folder"]])
def test_graph_equals_ansible_inventory_graph(names: list[str], tmp_path: Path) -> None:
    sources = _sources(names)
    want = ansible_inventory(sources, tmp_path, "--graph").rstrip("\n")
    assert load_inventory(sources, cwd=tmp_path).graph() == want


@pytest.mark.parametrize("host", ["web1", "web2", "db1"])
def test_host_vars_equal_ansible_inventory_host(host: str, tmp_path: Path) -> None:
    import json

    sources = _sources(["precedence/hosts"])
    want = json.loads(ansible_inventory(sources, tmp_path, "--host", host))
    assert load_inventory(sources, cwd=tmp_path).host_vars_json(host) == want


@pytest.mark.parametrize("value", ["a,b:2222, c", "single,", "10.0.0.1,[::1]:22,"])
def test_comma_host_list_equals_ansible_host_list(value: str, tmp_path: Path) -> None:
    assert load_inventory([value], cwd=tmp_path).to_list_json() == ansible_list([value], tmp_path)


def test_bare_name_finds_inventories_folder_like_the_path_ansible_reads(tmp_path: Path) -> None:
    shutil.copytree(DATA / "precedence", tmp_path / "inventories" / "prod")
    inv = load_inventory(["prod"], cwd=tmp_path)
    assert inv.to_list_json() == ansible_list([str(tmp_path / "inventories" / "prod")], tmp_path)
    # a folder as -i reads group_vars/host_vars inside it
    assert inv.hosts["web1"].vars["who"] == "host_vars_file"


def test_readme_example_inventory_reads_as_ansible_does(tmp_path: Path) -> None:
    example = str(Path(__file__).resolve().parents[2] / "inventories" / "example")
    inv = load_inventory([example], cwd=tmp_path)
    assert inv.to_list_json() == ansible_list([example], tmp_path)
    assert inv.graph() == ansible_inventory([example], tmp_path, "--graph").rstrip("\n")


@pytest.mark.parametrize(
    "source",
    [
        "ansible__ansible__var_blending/inventory",
        "openshift__openshift-ansible__hosts-example-3.11/hosts.example",
    ],
)
def test_corpus_graph_equals_ansible_inventory_graph(source: str, tmp_path: Path) -> None:
    from tests.inventory.conftest import CORPUS

    sources = [str(CORPUS / source)]
    want = ansible_inventory(sources, tmp_path, "--graph").rstrip("\n")
    assert load_inventory(sources, cwd=tmp_path).graph() == want
