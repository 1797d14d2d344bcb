"""Name the workload a memory cgroup belongs to: the systemd unit, the Kubernetes pod and container, or
the Docker container a user knows, instead of a 64-hex cgroup path.

In: a cgroup path as /proc/PID/cgroup shows it (v1 memory controller or v2), and what the probe read of
the container's runtime bundle (``bundle-key`` lines: the name annotations of an OCI ``config.json``, or
``"Name"`` of a Docker ``config.v2.json``). Out: a ``Workload`` record whose ``label`` is the name a
report shows. Pure: no file is read here; the probe read them on the host.

The kubelet names cgroups after the pod uid and the container id (cgroupfs driver:
``/kubepods/burstable/pod<uid>/<cid>``; systemd driver: ``/kubepods.slice/kubepods-burstable.slice/
kubepods-burstable-pod<uid with _>.slice/cri-containerd-<cid>.scope``); the names come from the runtime:
containerd's ``io.kubernetes.cri.sandbox-namespace`` / ``sandbox-name`` / ``container-name``, CRI-O's
``io.kubernetes.pod.namespace`` / ``pod.name`` / ``container.name``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

# containerd's and CRI-O's annotation keys -> Workload fields (the first one found wins)
ANNOTATIONS = {
    "io.kubernetes.cri.sandbox-namespace": "namespace",
    "io.kubernetes.pod.namespace": "namespace",
    "io.kubernetes.cri.sandbox-name": "pod",
    "io.kubernetes.pod.name": "pod",
    "io.kubernetes.cri.container-name": "container",
    "io.kubernetes.container.name": "container",
}
# io.kubernetes.cri.container-type / io.kubernetes.cri-o.ContainerType: "sandbox" is the pause container
SANDBOX_KEYS = ("io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType")

_HEX64 = re.compile(r"[0-9a-f]{64}")
# a UUID, or for a static pod (kube-apiserver, etcd) the 32-hex hash of its manifest
_POD_UID = re.compile(
    r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})(?:\.slice)?"
)
_QOS = re.compile(r"kubepods-(burstable|besteffort)\.slice|(burstable|besteffort)")
_SCOPE = re.compile(r"(?:cri-containerd|crio|docker|libpod)-([0-9a-f]{64})\.scope")
_KEY = re.compile(r'"([^"]+)":"([^"]*)"')


@dataclass(frozen=True, slots=True)
class Workload:
    """What a memory cgroup runs, as its owner names it; ``label`` is the one-line name reports show.

    ``kind``: ``pod`` (a Kubernetes container), ``container`` (Docker, or a container whose runtime
    gave no Kubernetes names), ``unit`` (a systemd service or scope) or ``cgroup`` (none of these).
    ``reason`` says why a name that should be there is not (the bundle unreadable, no annotations).
    """

    kind: str
    memcg: str
    label: str
    unit: str | None = None
    namespace: str | None = None
    pod: str | None = None
    pod_uid: str | None = None
    container: str | None = None
    container_id: str | None = None
    runtime: str | None = None
    qos: str | None = None
    reason: str | None = None

    @property
    def named(self) -> bool:
        """Named as something a user knows (a unit, pod or container), not only by its cgroup path."""
        return self.kind != "cgroup"


def _unit(parts: list[str]) -> str | None:
    """The innermost systemd unit of a path: a ``.service`` or ``.scope``, else the last ``.slice``."""
    units = [p for p in parts if p.endswith((".service", ".scope"))]
    if units:
        return units[-1]
    slices = [p for p in parts if p.endswith(".slice") and p != "-.slice"]
    return slices[-1] if slices else None


def _kube(parts: list[str]) -> tuple[str | None, str | None, str | None]:
    """(pod uid, qos, container id) from the kubelet's part of a path."""
    uid = qos = cid = None
    for part in parts:
        if m := _POD_UID.search(part):
            uid = m[1].replace("_", "-")
        elif m := _QOS.fullmatch(part):
            qos = m[1] or m[2]
        elif m := _SCOPE.fullmatch(part):
            cid = m[1]
        elif _HEX64.fullmatch(part):
            cid = part
    if uid and qos is None:
        qos = "guaranteed"
    return uid, qos, cid


@lru_cache(maxsize=4096)  # a fleet's top processes sit in a few hundred units and pods: ~20 us a name
def name_cgroup(path: str) -> Workload:
    """Name a cgroup from its path alone (the runtime's names come later, from ``with_bundle``).

    >>> name_cgroup("/system.slice/nginx.service").label
    'unit nginx.service'
    >>> name_cgroup("/user.slice/user-1000.slice/session-4.scope").label
    'unit session-4.scope'
    >>> name_cgroup("/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1.scope").unit
    'app-firefox-1.scope'
    >>> w = name_cgroup("/kubepods/burstable/pod3f6c1a2e-8d4b-4c1e-9a7f-0b2c3d4e5f60/" + "9b1e" * 16)
    >>> w.kind, w.pod_uid, w.qos, w.container_id[:8]
    ('pod', '3f6c1a2e-8d4b-4c1e-9a7f-0b2c3d4e5f60', 'burstable', '9b1e9b1e')
    >>> w.label
    'pod uid 3f6c1a2e-8d4b-4c1e-9a7f-0b2c3d4e5f60 container 9b1e9b1e9b1e'
    >>> w = name_cgroup("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
    ...     "3f6c1a2e_8d4b_4c1e_9a7f_0b2c3d4e5f60.slice/cri-containerd-" + "ab" * 32 + ".scope")
    >>> w.pod_uid, w.runtime, w.container_id == "ab" * 32, w.unit
    ('3f6c1a2e-8d4b-4c1e-9a7f-0b2c3d4e5f60', 'containerd', True, None)
    >>> w = name_cgroup("/kubepods.slice/kubepods-pod3f6c1a2e_8d4b_4c1e_9a7f_0b2c3d4e5f60.slice/crio-"
    ...     + "cd" * 32 + ".scope")
    >>> w.qos, w.runtime
    ('guaranteed', 'crio')
    >>> w = name_cgroup("/system.slice/docker-" + "ef" * 32 + ".scope")
    >>> w.kind, w.runtime, w.label
    ('container', 'docker', 'container efefefefefef (docker)')
    >>> name_cgroup("/docker/" + "ef" * 32).runtime
    'docker'
    >>> name_cgroup("/process_api/91cc94439721288c7aa77c7e20d88a79").label
    'cgroup /process_api/91cc94439721288c7aa77c7e20d88a79'
    """
    parts = [p for p in path.split("/") if p]
    runtime = None
    if parts and (m := re.fullmatch(r"(cri-containerd|crio|docker|libpod)-[0-9a-f]{64}\.scope", parts[-1])):
        runtime = {"cri-containerd": "containerd"}.get(m[1], m[1])
    elif "docker" in parts[:-1] and parts and _HEX64.fullmatch(parts[-1]):
        runtime = "docker"
    if any(p.startswith("kubepods") for p in parts):
        uid, qos, cid = _kube(parts)
        if uid:
            label = f"pod uid {uid}" + (f" container {cid[:12]}" if cid else "")
            return Workload("pod", path, label, pod_uid=uid, container_id=cid, runtime=runtime, qos=qos)
    if runtime is not None:
        cid = parts[-1].rsplit("-", 1)[-1].removesuffix(".scope")
        return Workload(
            "container", path, f"container {cid[:12]} ({runtime})", container_id=cid, runtime=runtime
        )
    unit = _unit(parts)
    if unit is not None:
        return Workload("unit", path, f"unit {unit}", unit=unit)
    return Workload("cgroup", path, f"cgroup {path}")


def parse_bundle_keys(lines: list[str]) -> dict[str, str]:
    """The ``"key":"value"`` pairs the probe matched in a bundle (first occurrence of each key wins).

    >>> parse_bundle_keys(['"io.kubernetes.cri.sandbox-name":"checkout-7d9f8-x2bq4"', '"Name":"/web"'])
    {'io.kubernetes.cri.sandbox-name': 'checkout-7d9f8-x2bq4', 'Name': '/web'}
    """
    keys: dict[str, str] = {}
    for line in lines:
        if m := _KEY.fullmatch(line.strip()):
            keys.setdefault(m[1], m[2])
    return keys


def with_bundle(w: Workload, keys: dict[str, str] | None, problem: str | None) -> Workload:
    """The workload with the names its runtime's bundle gave, or the id and why there are none.

    >>> pod = name_cgroup("/kubepods/besteffort/pod3f6c1a2e-8d4b-4c1e-9a7f-0b2c3d4e5f60/" + "9b" * 32)
    >>> with_bundle(pod, {"io.kubernetes.cri.sandbox-namespace": "shop", "io.kubernetes.cri.sandbox-name":
    ...     "checkout-7d9f8-x2bq4", "io.kubernetes.cri.container-name": "cart-api"}, None).label
    'pod shop/checkout-7d9f8-x2bq4 container cart-api'
    >>> docker = name_cgroup("/docker/" + "ef" * 32)
    >>> with_bundle(docker, {"Name": "/web"}, None).label
    'container web (docker)'
    >>> w = with_bundle(docker, None, "bundle not readable: No such file or directory: /var/lib/docker/x")
    >>> w.label, w.reason
    ('container efefefefefef (docker)', 'bundle not readable: No such file or directory: /var/lib/docker/x')
    """
    if problem is not None or not keys:
        return replace(w, reason=problem or "no names in the bundle")
    names: dict[str, str] = {}
    for key, field in ANNOTATIONS.items():
        if keys.get(key):
            names.setdefault(field, keys[key])
    if names.get("pod"):
        sandbox = any(keys.get(k) == "sandbox" for k in SANDBOX_KEYS)
        container = None if sandbox else names.get("container")
        label = f"pod {names.get('namespace', '?')}/{names['pod']}" + (
            f" container {container}" if container else " (sandbox)"
        )
        return replace(
            w,
            kind="pod",
            label=label,
            namespace=names.get("namespace"),
            pod=names["pod"],
            container=container,
        )
    name = keys.get("Name", "").lstrip("/")
    if name:
        return replace(
            w, kind="container", label=f"container {name} ({w.runtime or 'docker'})", container=name
        )
    return replace(w, reason="no names in the bundle")


# The suffixes controllers give replicas: Deployment <rs-hash>-<5>, DaemonSet/Job <5>, StatefulSet <n>
_REPLICA = re.compile(r"-(?:[a-z0-9]{6,10}-[a-z0-9]{5}|[a-z0-9]{5}|\d+)$")


def workload_group(w: Workload) -> str:
    """What a fleet groups replicas under: the pod's name with its replica suffix as ``*``; a unit, or a
    Docker container, by its name.

    >>> pod = Workload("pod", "/kubepods/x", "", namespace="shop", pod="checkout-7d9f8c6b5-x2bq4",
    ...                container="cart-api")
    >>> workload_group(pod)
    'pod shop/checkout-* container cart-api'
    >>> workload_group(Workload("pod", "/kubepods/x", "", namespace="db", pod="pg-0", container="postgres"))
    'pod db/pg-* container postgres'
    >>> workload_group(Workload("unit", "/system.slice/nginx.service", "unit nginx.service"))
    'unit nginx.service'
    """
    if w.kind == "pod" and w.pod:
        base = _REPLICA.sub("-*", w.pod)
        return f"pod {w.namespace or '?'}/{base}" + (f" container {w.container}" if w.container else "")
    return w.label
