"""Workloads named live: real memory cgroups at the paths kubelet, systemd and Docker make, real faulting
processes in them, runtime bundles in their real formats under ``pfdiag_oci_root``; the probe run
locally (dash) and over SSH as the unprivileged login user. Needs root (cgroups)."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from diag.probe import parse_probe, probe_command
from diag.probe.measurements import HostSample
from tests.fixtures.containers import (
    CONTAINERD_TASKS,
    container_id,
    containerd_bundle,
    crio_bundle,
    docker_config,
    join,
    kubepods_systemd_path,
    pod_uid,
    workload_cgroup,
)
from tests.fixtures.workloads import Workload, inline_python

pytestmark = pytest.mark.workload

# ~5,000 minor faults/s: enough to be a top process on a shared machine, cheap enough for five at once
SMALL_FAULTER = r"""
import mmap, time
print("ready", flush=True)
while True:
    m = mmap.mmap(-1, 1 << 20)
    m[::4096] = b"\1" * 256
    m.close()
    time.sleep(0.05)
"""


@pytest.fixture
def oci_root() -> Iterator[Path]:
    """An empty runtime state root, readable by the SSH login user; removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="pfdiag-oci-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


@contextlib.contextmanager
def faulter_in(path: str) -> Iterator[int]:
    """A small faulting process inside a new memory cgroup at ``path``."""
    with workload_cgroup(path) as cgroup, inline_python(SMALL_FAULTER) as pid:
        join(cgroup, pid)
        yield pid


def sample(oci_root: Path, top_n: int = 40) -> HostSample:
    from diag.transport.local import LocalTransport

    result = LocalTransport().run(
        probe_command(interval_s=1, top_n=top_n, oci_root=str(oci_root)), timeout_s=60
    )
    assert result.exit_code == 0, result.stderr_tail()
    return parse_probe(result.stdout)


def process(s: HostSample, pid: int):  # type: ignore[no-untyped-def]
    found = [p for p in s.processes if p.pid == pid]
    assert found, f"pid {pid} not among the top processes: {[(p.pid, p.comm) for p in s.processes]}"
    return found[0]


def test_a_storm_in_a_containerd_pod_is_named_and_its_cgroup_rated(minor_storm: Workload, oci_root: Path):
    uid, cid = pod_uid(), container_id()
    containerd_bundle(oci_root, cid, "shop", "checkout-7d9f8c6b5-x2bq4", "cart-api", uid)
    path = kubepods_systemd_path(uid, cid)
    with workload_cgroup(path) as cgroup:
        join(cgroup, minor_storm.pid)
        s = sample(oci_root)
    w = process(s, minor_storm.pid).workload
    assert w is not None and w.label == "pod shop/checkout-7d9f8c6b5-x2bq4 container cart-api"
    assert (w.kind, w.namespace, w.pod, w.container, w.pod_uid, w.qos, w.container_id, w.runtime) == (
        "pod", "shop", "checkout-7d9f8c6b5-x2bq4", "cart-api", uid, "burstable", cid, "containerd",
    )  # fmt: skip
    rated = {r.memcg: r for r in s.workloads}
    assert path in rated, list(rated)
    pod = rated[path]
    assert pod.workload == w and pod.minflt_per_s is not None and pod.minflt_per_s > 10_000
    # the storm is one process: it makes (nearly) all of its cgroup's faults
    assert pod.busiest_pid == minor_storm.pid and (pod.process_share_pct or 0) > 50
    # the pod slice above it is not a leaf: its faults are the container's, not listed twice
    assert not [r for r in s.workloads if r.memcg == path.rsplit("/", 1)[0]]


def test_crio_docker_and_systemd_workloads_are_named_and_unreadable_bundles_say_why(oci_root: Path):
    crio_uid, crio_cid = pod_uid(), container_id()
    crio_bundle(oci_root, crio_cid, "db", "pg-0", "postgres")
    docker_cid = container_id()
    docker_config(oci_root, docker_cid, "web")
    unit = f"pfdiag-test-{secrets.token_hex(3)}.service"
    missing_uid, missing_cid = pod_uid(), container_id()  # no bundle at all
    broken_uid, broken_cid = pod_uid(), container_id()
    (oci_root / CONTAINERD_TASKS / broken_cid / "config.json").mkdir(parents=True)  # not a file
    paths = {
        "crio": f"/kubepods/besteffort/pod{crio_uid}/{crio_cid}",  # cgroupfs driver: the runtime is tried
        "docker": f"/system.slice/docker-{docker_cid}.scope",
        "unit": f"/system.slice/{unit}",
        "missing": kubepods_systemd_path(missing_uid, missing_cid),
        "broken": kubepods_systemd_path(broken_uid, broken_cid, qos="besteffort"),
    }
    with contextlib.ExitStack() as stack:
        pids = {name: stack.enter_context(faulter_in(path)) for name, path in paths.items()}
        s = sample(oci_root)
    named = {name: process(s, pid).workload for name, pid in pids.items()}
    assert named["crio"].label == "pod db/pg-0 container postgres" and named["crio"].pod_uid == crio_uid
    assert (named["docker"].label, named["docker"].container_id) == ("container web (docker)", docker_cid)
    assert (named["unit"].kind, named["unit"].unit) == ("unit", unit)
    missing = named["missing"]
    assert (missing.pod_uid, missing.container_id, missing.pod) == (missing_uid, missing_cid, None)
    assert missing.reason == (
        f"bundle {oci_root}/{CONTAINERD_TASKS}/{missing_cid}/config.json not readable: "
        "No such file or directory"
    )
    broken = named["broken"]
    assert broken.container_id == broken_cid and broken.reason is not None
    assert broken.reason.endswith("not readable: Is a directory"), broken.reason
    for name, path in paths.items():  # each cgroup's own rate, named as its process is
        assert [r.workload for r in s.workloads if r.memcg == path] == [named[name]]


@pytest.mark.ssh
def test_over_ssh_the_unprivileged_login_reads_the_names_and_a_closed_bundle_says_permission_denied(
    ssh_fleet, minor_storm: Workload, oci_root: Path
) -> None:
    from diag.transport.sshasync import SSHTransport

    uid, cid = pod_uid(), container_id()
    containerd_bundle(oci_root, cid, "shop", "checkout-7d9f8c6b5-x2bq4", "cart-api", uid)
    closed_uid, closed_cid = pod_uid(), container_id()
    containerd_bundle(oci_root, closed_cid, "shop", "secret-0", "vault", closed_uid).chmod(0)
    name = ssh_fleet.healthy[0]
    transport = SSHTransport(name, ssh_fleet.hosts[name], ssh_fleet.options, become=False)
    with (
        workload_cgroup(kubepods_systemd_path(uid, cid)) as cgroup,
        faulter_in(kubepods_systemd_path(closed_uid, closed_cid)) as closed_pid,
    ):
        join(cgroup, minor_storm.pid)
        result = transport.run(probe_command(interval_s=1, top_n=40, oci_root=str(oci_root)), timeout_s=60)
    transport.close()
    assert result.exit_code == 0, result.stderr_tail()
    s = parse_probe(result.stdout)
    w = process(s, minor_storm.pid).workload
    assert w is not None and w.label == "pod shop/checkout-7d9f8c6b5-x2bq4 container cart-api"
    closed = process(s, closed_pid).workload
    assert closed is not None and (closed.container_id, closed.pod) == (closed_cid, None)
    assert closed.reason == (
        f"bundle {oci_root}/{CONTAINERD_TASKS}/{closed_cid}/config.json not readable: Permission denied"
    )
