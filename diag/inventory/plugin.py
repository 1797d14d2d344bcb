"""An inventory plugin config (``plugin: amazon.aws.aws_ec2``) -> its hosts, evaluated by Ansible itself.

In: a YAML file with a ``plugin:`` key, or one named as Ansible's plugins expect (``fleet.aws_ec2.yml``).
Out: the ``ansible-inventory -i ... --list --export`` JSON of the ``-i`` sources, which ``saved_list``
then reads like any saved ``--list``. Cloud, CMDB and Kubernetes plugins need Ansible's own code,
credentials and collections, so pfdiag does not reimplement them: it runs ``ansible-inventory`` (an
argv, no shell; a timeout; its stderr in the error) when ansible-core is installed
(``pip install 'pfdiag[ansible]'``) and says so when it is not. Unparsed sources are made fatal (Ansible
would otherwise print a warning and an empty inventory, and a run would reach no host without saying why).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from diag.shared.errors import InventoryError
from diag.shared.limits import INVENTORY_PLUGIN_TIMEOUT_S, MAX_INPUT_BYTES

# Names whose plugin's verify_file() accepts them without a `plugin:` key being looked at first
# (each plugin documents "the filename must end with <name>.yml or <name>.yaml").
PLUGIN_FILE = re.compile(
    r"\.(aws_ec2|aws_rds|azure_rm|gcp|gcp_compute|k8s|kubevirt|openshift|openstack|clouds|vmware|"
    r"vmware_vm_inventory|foreman|proxmox|hcloud|linode|digital_ocean|netbox|nmap|docker|podman|"
    r"virtualbox|scaleway|cloudscale|vultr|ovirt|nutanix|generator|constructed)\.ya?ml$"
)
BINARY_ENV = "PFDIAG_ANSIBLE_INVENTORY"  # the ansible-inventory to run (default: beside python, then PATH)
STDERR_TAIL = 2000
# Ansible tries every inventory plugin on a source and warns for each; these say why the right one failed
TELLING = ("[WARNING]: Error loading plugin", "[WARNING]: Failed to parse inventory with 'auto' plugin")


def plugin_name(path: Path, data: Any) -> str | None:
    """The plugin a parsed YAML inventory file names, or None if it is a static inventory.

    >>> plugin_name(Path("fleet.yml"), {"plugin": "ansible.builtin.generator", "layers": {}})
    'ansible.builtin.generator'
    >>> plugin_name(Path("prod.aws_ec2.yml"), {"regions": ["eu-west-1"]})
    'aws_ec2'
    >>> plugin_name(Path("hosts.yml"), {"all": {"hosts": {"a": None}}}) is None
    True
    """
    if isinstance(data, Mapping) and isinstance(data.get("plugin"), str):
        return str(data["plugin"])
    match = PLUGIN_FILE.search(path.name)
    return match.group(1) if match else None


def ansible_inventory_binary() -> str | None:
    """``$PFDIAG_ANSIBLE_INVENTORY``, else the one installed beside this Python, else PATH's."""
    if BINARY_ENV in os.environ:
        chosen = os.environ[BINARY_ENV]
        return chosen if os.access(chosen, os.X_OK) else None
    beside = Path(sys.executable).parent / "ansible-inventory"
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("ansible-inventory")


def evaluate(
    sources: Sequence[str], plugins: Sequence[tuple[Path, str]], timeout_s: float = INVENTORY_PLUGIN_TIMEOUT_S
) -> Any:
    """``ansible-inventory -i S1 -i S2 ... --list --export``, parsed; one ``InventoryError`` if it fails.

    Every ``-i`` source goes to the one call, in order, so a ``constructed`` config sees the hosts of the
    sources before it, as in Ansible; ``--export`` keeps group vars on their groups, so a static group's
    host still inherits a var a plugin set on that group.
    """
    path = plugins[0][0]
    named = ", ".join(sorted({name for _, name in plugins}))
    binary = ansible_inventory_binary()
    if binary is None:
        raise InventoryError(
            f"inventory plugin {named} is evaluated by Ansible, and ansible-inventory was not found",
            where=str(path),
            hint="pip install 'pfdiag[ansible]' (ansible-core, plus the plugin's collection), or save "
            "the inventory where Ansible runs: ansible-inventory -i FILE --list > fleet.json; -i fleet.json",
        )
    env = {
        **os.environ,
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    argv = [binary, *(arg for source in sources for arg in ("-i", source)), "--list", "--export"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, start_new_session=True
            )
        except OSError as exc:
            raise InventoryError(f"cannot run {binary}: {exc.strerror}", where=str(path)) from None
        try:
            code = proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise InventoryError(
                f"ansible-inventory did not answer within {timeout_s:g} s for plugin {named}",
                where=str(path),
                hint="check the plugin's endpoint and credentials, or save its --list output as JSON",
            ) from None
        stderr = _tail(err)
        if code != 0:
            raise InventoryError(
                f"ansible-inventory failed (exit {code}) for plugin {named}: {stderr or 'no message'}",
                where=str(path),
                hint=_hint(stderr, [name for _, name in plugins]),
            )
        size = out.seek(0, os.SEEK_END)
        if size > MAX_INPUT_BYTES:
            raise InventoryError(
                f"ansible-inventory answered {size} bytes, more than {MAX_INPUT_BYTES}", where=str(path)
            )
        out.seek(0)
        try:
            return json.loads(out.read().decode("utf-8", "replace"))
        except ValueError as exc:
            raise InventoryError(f"ansible-inventory's answer is not JSON: {exc}", where=str(path)) from None


def _hint(stderr: str, plugins: Sequence[str]) -> str | None:
    """``ansible-galaxy collection install NS.NAME`` when Ansible lacks the plugin's collection.

    >>> _hint("Error loading plugin 'amazon.aws.aws_ec2': No module named ...", ["amazon.aws.aws_ec2"])
    'the plugin comes in a collection: ansible-galaxy collection install amazon.aws'
    """
    missing = [p for p in plugins if p.count(".") >= 2 and f"Error loading plugin '{p}'" in stderr]
    if not missing:
        return None
    collections = " ".join(sorted({".".join(p.split(".")[:2]) for p in missing}))
    return f"the plugin comes in a collection: ansible-galaxy collection install {collections}"


def _tail(stream: Any) -> str:
    """What Ansible said that matters (why the plugin failed), else the end of its stderr."""
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - 64 * STDERR_TAIL))
    lines = stream.read().decode("utf-8", "replace").splitlines()
    telling = [
        line.split(": ", 1)[1] if line.startswith("[WARNING]") else line
        for line in lines
        if line.startswith(("[ERROR]", *TELLING))
    ]
    text = "; ".join(telling) if telling else " ".join(" ".join(lines).split())
    return text[-STDERR_TAIL:]
