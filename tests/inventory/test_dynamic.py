"""Dynamic inventories: a saved ``ansible-inventory --list`` and plugin configs, with Ansible as the oracle.

A saved ``--list`` must list back exactly as the file (the corpus' expected-list files: real inventories
as ansible-core 2.19 listed them) and as Ansible reads the same JSON from a script; plugin configs that
need no network (``generator``, ``constructed``) must give what ``ansible-inventory`` gives for the same
``-i`` sources, mixed with static ones; and a real triage runs on hosts a plugin made, locally and over SSH.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from diag.cli import main
from diag.inventory import load_inventory
from diag.inventory.plugin import BINARY_ENV, evaluate
from diag.shared.errors import InventoryError
from tests.fixtures.sshd_fleet import Fleet
from tests.inventory.conftest import (
    CORPUS,
    ansible_inventory,
    ansible_list,
    ansible_list_hosts,
    needs_ansible,
)

CORPUS_LISTS = sorted(CORPUS.glob("*/expected-list.json")) if CORPUS.is_dir() else []

GENERATOR = """\
plugin: ansible.builtin.generator
hosts:
  name: "{{ app }}-{{ env }}"
  parents:
    - name: "{{ app }}"
      vars:
        ansible_connection: local
        tier: "{{ app }}"
    - name: "{{ env }}"
layers:
  app: [web, db]
  env: [dev, prod]
"""
STATIC = """\
[web]
web-dev ansible_port=2222
edge1 ansible_host=127.0.0.9

[edge]
edge1
"""
CONSTRUCTED = """\
plugin: ansible.builtin.constructed
strict: true
groups:
  edgy: inventory_hostname.startswith('edge')
keyed_groups:
  - key: (ansible_port | default(22)) | string
    prefix: port
compose:
  role: "'frontend' if 'web' in group_names else 'backend'"
"""


def pfdiag(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    return code, out, err


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    (tmp_path / "fleet.generator.yml").write_text(GENERATOR)
    (tmp_path / "static.ini").write_text(STATIC)
    (tmp_path / "groups.constructed.yml").write_text(CONSTRUCTED)
    return tmp_path


@pytest.mark.skipif(not CORPUS_LISTS, reason="shared corpus not present")
@needs_ansible
@pytest.mark.parametrize("saved", CORPUS_LISTS, ids=[p.parent.name for p in CORPUS_LISTS])
def test_a_saved_list_lists_back_as_the_file_and_as_ansible_reads_it(
    saved: Path, tmp_path: Path, capsys: Any
) -> None:
    fleet = tmp_path / "fleet.json"
    shutil.copy(saved, fleet)
    script = tmp_path / "script.sh"  # Ansible's own way to read such JSON: a script that prints it
    script.write_text(f"#!/bin/sh\ncat '{fleet}'\n")
    script.chmod(0o755)

    code, out, err = pfdiag(capsys, "inventory", "-i", str(fleet), "--list")

    assert code == 0, err
    assert json.loads(out) == json.loads(saved.read_text())
    assert json.loads(out) == ansible_list([str(script)], tmp_path)


def test_a_saved_list_in_yaml_with_unsafe_values_keeps_them_unsafe(tmp_path: Path) -> None:
    saved = {
        "all": {"children": ["ungrouped", "db"]},
        "db": {"hosts": ["d1"], "vars": {"port": 5432}},
        "ungrouped": {"hosts": ["lone"]},
        "_meta": {"hostvars": {"d1": {"secret": {"__ansible_unsafe": "{{ not_rendered }}"}}}},
    }
    (tmp_path / "fleet.yml").write_text(yaml.safe_dump(saved))
    inventory = load_inventory([str(tmp_path / "fleet.yml")], cwd=tmp_path)
    assert inventory.to_list_json()["_meta"]["hostvars"]["d1"] == {
        "port": 5432,
        "secret": {"__ansible_unsafe": "{{ not_rendered }}"},
    }
    assert [h.name for h in inventory.select("ungrouped")] == ["lone"]


def test_a_saved_list_with_a_bad_group_is_one_clear_error(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "fleet.json").write_text(json.dumps({"web": 3, "_meta": {"hostvars": {}}}))
    code, _, err = pfdiag(capsys, "inventory", "-i", str(tmp_path / "fleet.json"), "--list")
    assert code == 4
    assert "fleet.json" in err and "group 'web' must be a mapping or a list of hosts, got int" in err


@needs_ansible
@pytest.mark.parametrize(
    "sources",
    [
        ["fleet.generator.yml"],
        ["static.ini", "fleet.generator.yml"],
        ["fleet.generator.yml", "static.ini"],
        ["static.ini", "groups.constructed.yml"],
        ["fleet.generator.yml", "static.ini", "groups.constructed.yml"],
    ],
    ids=lambda s: "+".join(s),
)
def test_plugin_configs_list_and_graph_as_ansible_inventory(
    sources: list[str], plugin_dir: Path, capsys: Any
) -> None:
    args = [a for s in sources for a in ("-i", str(plugin_dir / s))]
    code, out, err = pfdiag(capsys, "inventory", *args, "--list")
    assert code == 0, err
    assert json.loads(out) == ansible_list([str(plugin_dir / s) for s in sources], plugin_dir)
    code, out, err = pfdiag(capsys, "inventory", *args, "--graph")
    assert code == 0, err
    want = ansible_inventory([str(plugin_dir / s) for s in sources], plugin_dir, "--graph")
    assert out.strip() == want.strip()


@needs_ansible
def test_limit_and_list_hosts_work_on_a_plugin_inventory(plugin_dir: Path, capsys: Any) -> None:
    code, out, err = pfdiag(
        capsys,
        "run",
        "triage.yml",
        "-i",
        str(plugin_dir / "fleet.generator.yml"),
        "-i",
        str(plugin_dir / "static.ini"),
        "-l",
        "prod:edge1:!db",
        "--list-hosts",
    )
    assert code == 0, err
    sources = [str(plugin_dir / "fleet.generator.yml"), str(plugin_dir / "static.ini")]
    want = ansible_list_hosts(sources, plugin_dir, "prod:edge1:!db")
    assert sorted(want) == ["edge1", "web-prod"]
    assert f"hosts ({len(want)}):" in out and all(f"      {name}\n" in out for name in want)


def test_without_ansible_a_plugin_config_is_one_error_naming_the_plugin_and_the_fix(
    plugin_dir: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv(BINARY_ENV, str(plugin_dir / "no-such-ansible-inventory"))
    code, _, err = pfdiag(capsys, "run", "triage.yml", "-i", str(plugin_dir / "fleet.generator.yml"))
    assert code == 4
    assert "inventory plugin ansible.builtin.generator is evaluated by Ansible" in err
    assert "pip install 'pfdiag[ansible]'" in err and "--list > fleet.json" in err
    assert err.count("ERROR") == 1 and "as INI" not in err


@needs_ansible
def test_a_plugin_from_a_missing_collection_says_which_collection_to_install(
    tmp_path: Path, capsys: Any
) -> None:
    (tmp_path / "prod.aws_ec2.yml").write_text("plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    code, _, err = pfdiag(capsys, "inventory", "-i", str(tmp_path / "prod.aws_ec2.yml"), "--list")
    assert code == 4
    assert "prod.aws_ec2.yml" in err and "ansible-inventory failed" in err
    assert "ansible-galaxy collection install amazon.aws" in err and "Traceback" not in err


@needs_ansible
def test_a_broken_plugin_config_gives_ansibles_reason_not_an_empty_inventory(
    tmp_path: Path, capsys: Any
) -> None:
    (tmp_path / "bad.yml").write_text("plugin: ansible.builtin.generator\nhosts: 3\n")
    code, _, err = pfdiag(capsys, "inventory", "-i", str(tmp_path / "bad.yml"), "--list")
    assert code == 4
    assert "bad.yml" in err and "Failed to parse inventory with 'auto' plugin: 'layers'" in err


def test_a_hung_ansible_inventory_is_killed_at_the_timeout(tmp_path: Path) -> None:
    fake = tmp_path / "ansible-inventory"
    pid_file = tmp_path / "pid"
    fake.write_text(f"#!/bin/sh\necho $$ > '{pid_file}'\nexec sleep 60\n")
    fake.chmod(0o755)
    config = tmp_path / "fleet.generator.yml"
    config.write_text(GENERATOR)
    os.environ[BINARY_ENV] = str(fake)
    try:
        with pytest.raises(
            InventoryError, match=r"did not answer within 1 s for plugin ansible.builtin.generator"
        ):
            evaluate([str(config)], [(config, "ansible.builtin.generator")], timeout_s=1)
    finally:
        del os.environ[BINARY_ENV]
    pid = int(pid_file.read_text())
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the timed-out ansible-inventory was left running"


def test_an_executable_inventory_script_stays_refused_with_how_to_save_its_output(
    tmp_path: Path, capsys: Any
) -> None:
    script = tmp_path / "ec2.py"
    script.write_text("#!/bin/sh\necho '{}'\n")
    script.chmod(0o755)
    code, _, err = pfdiag(capsys, "inventory", "-i", str(script), "--list")
    assert code == 4 and "executable inventory scripts are not supported" in err and "--list > " in err


@needs_ansible
@pytest.mark.workload
def test_triage_runs_on_hosts_a_generator_made(plugin_dir: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(plugin_dir)
    tmp_path = plugin_dir
    code, out, err = pfdiag(
        capsys,
        "run",
        "triage.yml",
        "-i",
        "fleet.generator.yml",
        "-l",
        "db",
        "-e",
        "interval=0.5",
        "--json",
        str(tmp_path / "run.json"),
    )
    assert code == 0, err
    hosts = json.loads((tmp_path / "run.json").read_text())["hosts"]
    assert sorted(hosts) == ["db-dev", "db-prod"]
    assert "db-dev" in out and "db-prod" in out  # the fleet table
    assert all(h["status"] == "ok" and h["verdict"] for h in hosts.values())


@needs_ansible
@pytest.mark.ssh
def test_triage_over_ssh_on_a_plugin_inventory_with_host_vars_beside_it(
    ssh_fleet: Fleet, tmp_path: Path, capsys: Any
) -> None:
    names = list(ssh_fleet.healthy[:3])
    (tmp_path / "fleet.generator.yml").write_text(
        yaml.safe_dump(
            {
                "plugin": "ansible.builtin.generator",
                "hosts": {"name": "{{ host }}", "parents": [{"name": "probed"}]},
                "layers": {"host": names},
            }
        )
    )
    (tmp_path / "host_vars").mkdir()
    for name in names:
        (tmp_path / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump(dict(ssh_fleet.hosts[name])))
    code, out, err = pfdiag(
        capsys,
        "run",
        "triage.yml",
        "-i",
        str(tmp_path / "fleet.generator.yml"),
        "-e",
        "interval=0.5",
        "--json",
        str(tmp_path / "run.json"),
        "--known-hosts",
        str(ssh_fleet.known_hosts),
        "--ssh-config",
        str(ssh_fleet.ssh_config),
        "-T",
        "5",
    )
    assert code == 0, err
    hosts = json.loads((tmp_path / "run.json").read_text())["hosts"]
    assert sorted(hosts) == sorted(names)
    assert all(name in out for name in names)  # the fleet table
    assert all(h["status"] == "ok" for h in hosts.values()), {n: h.get("reason") for n, h in hosts.items()}
