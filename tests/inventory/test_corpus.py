"""Every corpus inventory (real, public) read by load_inventory equals the shipped --list output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from diag.inventory import load_inventory
from tests.inventory.conftest import CORPUS

# (folder, -i file relative to it, expected file): point at the file, never the folder (SOURCES.md)
CASES = [
    ("ansible__ansible__examples-hosts-2012", "hosts", "expected-list.json"),
    ("ansible__ansible__var_blending", "inventory", "expected-list.json"),
    ("ansible__ansible-navigator__ansible_inventory", "inventory.yml", "expected-list.json"),
    ("ceph__ceph-ansible__all_daemons", "hosts", "expected-list.json"),
    ("k3s-io__k3s-ansible__inventory-sample", "inventory-sample.yml", "expected-list.json"),
    ("openshift__openshift-ansible__hosts-example-3.11", "hosts.example", "expected-list.json"),
    ("roots__trellis__hosts", "hosts/development", "expected-list.json"),
    ("spurin__diveintoansible__inventories-15", "hosts", "expected-list.json"),
    ("spurin__diveintoansible__inventories-15", "hosts.yaml", "expected-list.hosts.yaml.json"),
    ("spurin__diveintoansible__inventories-15", "hosts.json", "expected-list.hosts.json.json"),
    ("geerlingguy__ansible-for-devops__kubernetes", "inventory", "expected-list.json"),
]

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")


@pytest.mark.parametrize(("folder", "source", "expected"), CASES, ids=[f"{c[0]}/{c[1]}" for c in CASES])
def test_corpus_inventory_lists_exactly_as_ansible_inventory(folder: str, source: str, expected: str) -> None:
    want = json.loads((CORPUS / folder / expected).read_text())
    got = load_inventory([str(CORPUS / folder / source)], cwd=CORPUS / folder).to_list_json()
    assert got == want


def test_kubespray_group_vars_through_a_symlinked_folder_apply_only_all(tmp_path: Path) -> None:
    # The corpus copy stores the `local/group_vars` symlink as a file holding its target; ansible ran
    # on the real symlink, so rebuild it before comparing.
    root = tmp_path / "inventory"
    shutil.copytree(CORPUS / "kubernetes-sigs__kubespray__local", root)
    link = root / "local" / "group_vars"
    target = link.read_text().strip()
    link.chmod(0o644)
    link.unlink()
    link.symlink_to(target)
    want = json.loads((root / "expected-list.json").read_text())
    got = load_inventory([str(root / "local" / "hosts.ini")], cwd=tmp_path).to_list_json()
    assert got == want
    # group_vars/k8s_cluster/ exists but k8s_cluster is not a group of hosts.ini, so it does not apply
    assert "local_release_dir" in got["_meta"]["hostvars"]["node1"]
    assert "kube_network_plugin" not in got["_meta"]["hostvars"]["node1"]


def test_kubespray_without_the_symlink_gets_only_inline_vars() -> None:
    inv = load_inventory([str(CORPUS / "kubernetes-sigs__kubespray__local" / "local" / "hosts.ini")])
    assert inv.hosts["node1"].vars == {
        "ansible_connection": "local",
        "local_release_dir": "{{ansible_env.HOME}}/releases",
    }


def test_trellis_playbook_dir_adds_group_vars_beside_the_playbook() -> None:
    root = CORPUS / "roots__trellis__hosts"
    want = json.loads((root / "expected-list.playbook-dir.json").read_text())
    inv = load_inventory([str(root / "hosts" / "development")], cwd=root, playbook_dir=root)
    assert inv.to_list_json() == want
