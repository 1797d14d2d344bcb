"""Naming a memory cgroup's workload from its path and its runtime's bundle, and the probe's reading of
memory.stat (cgroup v1 and v2) through the reducer: pure, canned input (no cgroup is made here)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from diag.probe.memcgstat import name_workload, parse_workloads_section
from diag.probe.script import SCRIPT_PATH
from diag.probe.workload import name_cgroup, with_bundle, workload_group

UID = "3f6c1a2e-8d4b-4c1e-9a7f-0b2c3d4e5f60"
U_ = UID.replace("-", "_")
CID = "9b1e" * 16


@pytest.mark.parametrize(
    ("path", "qos", "runtime"),
    [
        (f"/kubepods/burstable/pod{UID}/{CID}", "burstable", None),  # cgroupfs driver
        (f"/kubepods/pod{UID}/{CID}", "guaranteed", None),  # cgroupfs, Guaranteed: no QoS level
        (f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{U_}.slice/cri-containerd-{CID}.scope",
         "besteffort", "containerd"),
        (f"/kubepods.slice/kubepods-pod{U_}.slice/crio-{CID}.scope", "guaranteed", "crio"),
        (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}.slice/docker-{CID}.scope",
         "burstable", "docker"),
    ],
)  # fmt: skip
def test_kubelet_paths_of_both_drivers_and_qos_layouts_give_pod_uid_qos_and_container_id(path, qos, runtime):
    w = name_cgroup(path)
    assert (w.kind, w.pod_uid, w.qos, w.container_id, w.runtime) == ("pod", UID, qos, CID, runtime)
    assert w.memcg == path and w.label == f"pod uid {UID} container {CID[:12]}"


def test_a_static_pod_is_named_by_its_manifest_hash():
    slice_ = f"kubepods-burstable-pod{'7b' * 16}.slice"
    w = name_cgroup(f"/kubepods.slice/kubepods-burstable.slice/{slice_}/crio-{CID}.scope")
    assert (w.kind, w.pod_uid, w.container_id, w.runtime) == ("pod", "7b" * 16, CID, "crio")


@pytest.mark.parametrize(
    ("path", "unit"),
    [
        ("/system.slice/nginx.service", "nginx.service"),
        ("/system.slice/cron.service", "cron.service"),
        ("/user.slice/user-1000.slice/session-4.scope", "session-4.scope"),
        ("/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-1.scope",
         "vte-spawn-1.scope"),
        ("/user.slice/user-1000.slice/user@1000.service/app.slice", "user@1000.service"),
        ("/machine.slice", "machine.slice"),
    ],
)  # fmt: skip
def test_systemd_paths_name_the_innermost_unit(path, unit):
    w = name_cgroup(path)
    assert (w.kind, w.unit, w.label) == ("unit", unit, f"unit {unit}")


def test_docker_paths_of_both_drivers_name_the_container_id():
    for path in (f"/docker/{CID}", f"/system.slice/docker-{CID}.scope"):
        w = name_cgroup(path)
        assert (w.kind, w.runtime, w.container_id) == ("container", "docker", CID)


def test_a_cgroup_no_owner_names_is_labelled_by_its_path():
    path = "/process_api/91cc94439721288c7aa77c7e20d88a79"
    w = name_cgroup(path)
    assert (w.kind, w.label, w.unit, w.container_id) == ("cgroup", f"cgroup {path}", None, None)


def test_containerd_and_crio_annotations_name_namespace_pod_and_container():
    pod = name_cgroup(f"/kubepods/burstable/pod{UID}/{CID}")
    containerd = {
        "io.kubernetes.cri.sandbox-namespace": "shop",
        "io.kubernetes.cri.sandbox-name": "checkout-7d9f8c6b5-x2bq4",
        "io.kubernetes.cri.container-name": "cart-api",
        "io.kubernetes.cri.container-type": "container",
    }
    crio = {
        "io.kubernetes.pod.namespace": "shop",
        "io.kubernetes.pod.name": "checkout-7d9f8c6b5-x2bq4",
        "io.kubernetes.container.name": "cart-api",
    }
    for keys in (containerd, crio):
        w = with_bundle(pod, keys, None)
        assert (w.namespace, w.pod, w.container, w.reason) == (
            "shop",
            "checkout-7d9f8c6b5-x2bq4",
            "cart-api",
            None,
        )
        assert w.label == "pod shop/checkout-7d9f8c6b5-x2bq4 container cart-api"
        assert workload_group(w) == "pod shop/checkout-* container cart-api"
        assert w.pod_uid == UID and w.qos == "burstable"  # the path's facts stay


def test_the_pause_container_is_the_pods_sandbox_not_a_container():
    pod = name_cgroup(f"/kubepods/besteffort/pod{UID}/{CID}")
    keys = {"io.kubernetes.cri.sandbox-namespace": "shop", "io.kubernetes.cri.sandbox-name": "web-0",
            "io.kubernetes.cri.container-type": "sandbox"}  # fmt: skip
    w = with_bundle(pod, keys, None)
    assert (w.container, w.label) == (None, "pod shop/web-0 (sandbox)")


def test_a_bundle_that_cannot_be_read_keeps_the_id_and_says_why():
    rows, bundles, _ = parse_workloads_section(
        "1 40 0 /sys/fs/cgroup/memory",
        (
            f"memcg 0 120000 0 /kubepods/burstable/pod{UID}/{CID}",
            f"bundle {CID} unreadable /run/containerd/io.containerd.runtime.v2.task/k8s.io/{CID}/config.json "
            "No such file or directory",
            f"bundle {CID} unreadable /run/containers/storage/overlay-containers/{CID}/userdata/config.json "
            "Permission denied",
        ),
    )
    w = name_workload(rows[0].path, bundles)
    assert w.container_id == CID and w.label == f"pod uid {UID} container {CID[:12]}"
    assert w.reason == (
        f"bundle /run/containerd/io.containerd.runtime.v2.task/k8s.io/{CID}/config.json not readable: "
        f"No such file or directory; bundle /run/containers/storage/overlay-containers/{CID}/userdata/"
        "config.json not readable: Permission denied"
    )


def test_a_bundle_without_name_keys_says_so_and_a_later_docker_volume_name_is_not_the_name():
    rows, bundles, _ = parse_workloads_section(
        "1 2 0 /sys/fs/cgroup/memory",
        (
            f"memcg 0 10 0 /docker/{CID}",
            f'bundle-key {CID} "Name":"/web"',
            f'bundle-key {CID} "Name":"v"',
            f"bundle {CID} ok keys /var/lib/docker/containers/{CID}/config.v2.json",
            f"memcg 0 10 0 /system.slice/docker-{'ab' * 32}.scope",
            f"bundle {'ab' * 32} ok nokeys /var/lib/docker/containers/{'ab' * 32}/config.v2.json",
        ),
    )
    assert name_workload(rows[0].path, bundles).label == "container web (docker)"
    assert name_workload(rows[1].path, bundles).reason == (
        f"no names in the first bytes of /var/lib/docker/containers/{'ab' * 32}/config.v2.json"
    )


def test_more_cgroups_than_the_probe_reads_is_said():
    _, _, note = parse_workloads_section("2 4096 1 /sys/fs/cgroup", ())
    assert note is not None and "4096" in note


def _memory_stat(root: Path, path: str, text: str) -> None:
    d = root / path.strip("/")
    d.mkdir(parents=True, exist_ok=True)
    (d / "memory.stat").write_text(text)


V2_STAT = "anon 1048576\nfile 0\npgfault {pf}\npgmajfault {mf}\nworkingset_refault_anon 0\n"
V1_STAT = "cache 0\npgfault 3\npgmajfault 0\ntotal_cache 0\ntotal_pgfault {pf}\ntotal_pgmajfault {mf}\n"
POD = f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}.slice"


@pytest.mark.parametrize(("version", "stat"), [(2, V2_STAT), (1, V1_STAT)])
def test_the_reducer_rates_leaf_cgroups_and_cgroups_created_during_the_interval(tmp_path, version, stat):
    """Two mount points stand for the two snapshots (the reducer reads a file when it reads its line)."""
    for snap, (pod, container, unit) in enumerate([(1000, 900, 50), (5000, 4600, 50)]):
        root = tmp_path / f"snap{snap}"
        _memory_stat(root, POD, stat.format(pf=pod, mf=2 * snap))
        _memory_stat(root, f"{POD}/cri-containerd-{CID}.scope", stat.format(pf=container, mf=2 * snap))
        _memory_stat(root, "/system.slice/cron.service", stat.format(pf=unit, mf=0))
        if snap:
            _memory_stat(root, "/system.slice/new.service", stat.format(pf=70, mf=1))
    lines = []
    for snap in (0, 1):
        root = tmp_path / f"snap{snap}"
        lines += [f"@@pfdiag snap {snap} {100 + 2 * snap}.00", f"@@pfdiag memcgs {version} {root}"]
        lines += [str(p) for p in sorted(root.rglob("memory.stat"))] + [f"{root}/*/*/memory.stat"]
        lines += ["@@pfdiag memcgs-end", "@@pfdiag stat", "@@pfdiag stat-end"]
    out = subprocess.run(
        ["sh", str(SCRIPT_PATH), "reduce", "1", "5", "0"], input="\n".join(lines) + "\n",
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    section = out[out.index("@@pfdiag workloads ") :].splitlines()
    rows, _, note = parse_workloads_section(section[0].split(" ", 2)[2], tuple(section[1:-1]))
    got = {r.path: (r.minflt_delta, r.majflt_delta, r.new) for r in rows}
    # the pod slice holds the container: only the leaf is ranked; no faults in cron.service, not listed
    assert got == {
        f"{POD}/cri-containerd-{CID}.scope": (3700 - 2, 2, False),
        "/system.slice/new.service": (69, 1, True),
    }
    assert note is None


@pytest.mark.parametrize("root", ["relative/dir", "/tmp/x'y", "/tmp/a b", ""])
def test_a_runtime_root_the_probe_cannot_quote_safely_is_refused(root):
    from diag.probe import probe_command
    from diag.shared.errors import UsageError

    with pytest.raises(UsageError, match="pfdiag_oci_root must be an absolute path"):
        probe_command(interval_s=1, oci_root=root)


@pytest.mark.parametrize("line", ["memcg 0 12 x /a", "memcg 2 1 1 /a", "memcg 0 1 1 x", "bundle-key abc"])
def test_a_malformed_workloads_row_is_a_parse_error_quoting_it(line):
    from diag.shared.errors import ParseError

    with pytest.raises(ParseError, match=r"expected '(memcg|bundle-key) "):
        parse_workloads_section("1 1 0 /sys/fs/cgroup/memory", (line,))
