"""The real node: kubelet, containerd and runc in a network namespace of the
cluster's own, running pods from the trainer image (hack/localkube/images.sh)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from localkube import processes
from localkube.cluster import Cluster
from localkube.node import cgroups
from localkube.traces import net_namespace_inodes, processes_mentioning

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NAME = "realnode"
IMAGES = Path(__file__).resolve().parents[1] / "images.sh"
TRAINER = "ghcr.io/modelpipe/modelpipe-trainer:0.1.0"
RESTRICTED = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@pytest.fixture(scope="module")
def real() -> Iterator[Cluster]:
    subprocess.run(["bash", str(IMAGES), "trainer"], check=True, stdout=subprocess.DEVNULL)
    cluster = Cluster.up(NAME)
    yield cluster
    cluster.down()


@pytest.fixture
def ns(real: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.name.replace("_", "-")[:50].strip("-")
    real.kubectl("create", "namespace", name)
    deadline = time.monotonic() + 30
    while real.kubectl("get", "sa", "default", "-n", name, check=False).returncode != 0:
        assert time.monotonic() < deadline, "the default ServiceAccount never appeared"
        time.sleep(0.2)
    yield name
    real.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _pod(name: str, container: Mapping[str, object], restart: str = "Never") -> str:
    base = {"name": "main", "image": TRAINER, "imagePullPolicy": "Never"}
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [{**base, "securityContext": RESTRICTED, **container}],
        },
    }
    return json.dumps(doc)


def _wait(real: Cluster, ns: str, pod: str, jsonpath: str, want: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    got = ""
    while time.monotonic() < deadline:
        out = real.kubectl("get", "pod", pod, "-n", ns, "-o", f"jsonpath={jsonpath}", check=False)
        got = out.stdout.strip()
        if got == want:
            return
        time.sleep(0.5)
    events = real.kubectl("get", "events", "-n", ns, check=False).stdout
    pytest.fail(f"pod {pod}: {jsonpath} is {got!r}, not {want!r}\n{events}")


def test_the_kubelet_registers_under_its_node_identity(real: Cluster) -> None:
    node = json.loads(real.kubectl("get", "node", real.node_name, "-o", "json").stdout)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.35.4"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalIP"] == "10.243.0.1"
    # The Node authorizer (RBAC alone grants system:nodes nothing): a node reads
    # its own Node, no other, and not the cluster's Secrets.
    as_node = ["--as", f"system:node:{real.node_name}", "--as-group", "system:nodes"]
    own = real.kubectl("auth", "can-i", "get", f"nodes/{real.node_name}", *as_node)
    assert own.stdout.strip() == "yes"
    other = real.kubectl("auth", "can-i", "get", "nodes/other", *as_node, check=False)
    assert other.stdout.strip().startswith("no")
    denied = real.kubectl("auth", "can-i", "list", "secrets", "-A", *as_node, check=False)
    assert denied.stdout.strip() == "no - can only read namespaced object of this type"


def test_it_runs_beside_the_session_cluster(real: Cluster, cluster: Cluster) -> None:
    assert real.server != cluster.server
    assert real.node_layout.netns != cluster.node_layout.netns
    for one in (real, cluster):
        nodes = json.loads(one.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        assert [n["metadata"]["name"] for n in nodes] == [one.node_name]
        assert one.running()


def test_the_trainer_image_runs_as_its_entrypoint_says(real: Cluster, ns: str) -> None:
    real.kubectl("apply", "-n", ns, "-f", "-", input=_pod("help", {}))
    _wait(real, ns, "help", "{.status.phase}", "Succeeded")
    logs = real.kubectl("logs", "help", "-n", ns).stdout
    assert "usage: modelpipe-trainer" in logs


def test_exec_shows_a_non_root_user_a_read_only_root_and_the_api_service(
    real: Cluster, ns: str
) -> None:
    sleeper = {"command": ["python", "-c", "import time; time.sleep(3600)"]}
    real.kubectl("apply", "-n", ns, "-f", "-", input=_pod("sleeper", sleeper))
    _wait(real, ns, "sleeper", "{.status.phase}", "Running")
    assert real.kubectl("exec", "sleeper", "-n", ns, "--", "id", "-u").stdout.strip() == "65532"
    touch = real.kubectl("exec", "sleeper", "-n", ns, "--", "touch", "/x", check=False)
    assert touch.returncode != 0
    assert "Read-only file system" in touch.stderr
    # The kubernetes Service (kube-proxy's rules) leads to the API server.
    probe = "import socket; socket.create_connection(('10.0.0.1', 443), 5); print('ok')"
    out = real.kubectl("exec", "sleeper", "-n", ns, "--", "python", "-c", probe)
    assert out.stdout.strip() == "ok"


def test_services_resolve_by_name_through_cluster_dns(real: Cluster, ns: str) -> None:
    sleeper = {"command": ["python", "-c", "import time; time.sleep(3600)"]}
    real.kubectl("apply", "-n", ns, "-f", "-", input=_pod("resolver", sleeper))
    _wait(real, ns, "resolver", "{.status.phase}", "Running")
    lookup = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"
    for name, address in (
        ("kubernetes.default", "10.0.0.1"),
        ("kube-dns.kube-system", "10.0.0.10"),
    ):
        out = real.kubectl("exec", "resolver", "-n", ns, "--", "python", "-c", lookup, name)
        assert out.stdout.strip() == address


def test_a_failing_liveness_probe_restarts_the_container(real: Cluster, ns: str) -> None:
    container = {
        "command": ["python", "-c", "import time; print('started', flush=True); time.sleep(3600)"],
        "livenessProbe": {
            "exec": {"command": ["false"]},
            "periodSeconds": 1,
            "failureThreshold": 1,
        },
    }
    real.kubectl("apply", "-n", ns, "-f", "-", input=_pod("flaky", container, "Always"))
    _wait(real, ns, "flaky", "{.status.containerStatuses[0].restartCount}", "1", timeout=180)
    assert "started" in real.kubectl("logs", "flaky", "-n", ns, "--previous").stdout


def test_a_memory_limit_is_a_real_oom_kill(real: Cluster, ns: str) -> None:
    container = {
        "command": ["python", "-c", "b = bytearray(512 * 1024 * 1024); print(len(b))"],
        "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}},
    }
    real.kubectl("apply", "-n", ns, "-f", "-", input=_pod("hog", container))
    _wait(real, ns, "hog", "{.status.containerStatuses[0].state.terminated.reason}", "OOMKilled")
    code = "{.status.containerStatuses[0].state.terminated.exitCode}"
    _wait(real, ns, "hog", code, "137")


def test_a_claim_is_a_directory_of_the_cluster_until_it_is_deleted(real: Cluster, ns: str) -> None:
    """The local-path-provisioner (the default class) makes a claim's directory once its
    first pod is scheduled; a non-root pod writes there; deleting the claim removes the
    volume and the directory, and its helper pods are gone."""
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    mount = {"volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    writer = json.loads(_pod("writer", {"command": ["sh", "-c", "id -u > /data/out"], **mount}))
    writer["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    real.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(claim))
    real.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(writer))
    _wait(real, ns, "writer", "{.status.phase}", "Succeeded")

    pvc = json.loads(real.kubectl("get", "pvc", "data", "-n", ns, "-o", "json").stdout)
    assert pvc["spec"]["storageClassName"] == "local-path"
    pv = json.loads(real.kubectl("get", "pv", pvc["spec"]["volumeName"], "-o", "json").stdout)
    directory = real.volumes_dir / ns / "data"
    assert pv["spec"]["hostPath"]["path"] == str(directory)
    (term,) = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term["matchExpressions"][0]["values"] == [real.node_name]
    assert (directory / "out").read_text().strip() == "65532"

    real.kubectl("delete", "pod", "writer", "-n", ns, "--wait=true")
    real.kubectl("delete", "pvc", "data", "-n", ns, "--wait=true")
    volume = f"pv/{pv['metadata']['name']}"
    real.kubectl("wait", "--for=delete", volume, "--timeout=120s", check=False)
    assert real.kubectl("get", volume, check=False).returncode != 0
    assert not directory.exists()
    helpers = ("pods", "-n", "local-path-storage")
    real.kubectl("wait", "--for=delete", "--all", *helpers, "--timeout=60s", check=False)
    assert real.kubectl("get", *helpers, "-o", "name").stdout.strip() == ""


def test_down_leaves_no_process_mount_namespace_bridge_or_cgroup(
    real: Cluster, ns: str, cluster: Cluster
) -> None:
    """After down nothing of the node is left: no process (by command line, by network
    namespace, or a container's), no mount seen by any process (the node's private mount
    namespace, container roots, pod netns files), no network namespace or bridge or
    address on the host, no cgroup in any hierarchy; the cluster beside it runs on."""
    sleeper = {"command": ["python", "-c", "import time; time.sleep(3600)"]}
    real.kubectl("apply", "-n", ns, "-f", "-", input=_pod("left-running", sleeper))
    _wait(real, ns, "left-running", "{.status.phase}", "Running")
    layout = real.node_layout
    node_netns = (Path("/run/netns") / layout.netns).stat().st_ino
    node_processes = {pid for pid, ino in net_namespace_inodes().items() if ino == node_netns}
    containers = cgroups.pids(layout.cgroup_root)
    assert containers and node_processes  # the pod and the node's components were running
    home = str(real.home).encode()
    assert processes_mentioning(home, "mountinfo")  # the node's mount namespace exists

    real.down()

    assert not real.volumes_dir.exists()
    assert (
        layout.netns
        not in subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert not (Path("/run/netns") / layout.netns).exists()
    # nsfs inode numbers are reused by the next namespace anyone on the host makes (the
    # lowest free one): the namespace lives on only if one of its processes is still there.
    still_inside = {pid for pid, ino in net_namespace_inodes().items() if ino == node_netns}
    assert not still_inside & node_processes
    # A killed process whose new parent (PID 1 here) has not reaped it yet is a zombie: it
    # holds no memory, mount or namespace any more, so it counts as gone; anything else not.
    alive = [pid for pid in node_processes | containers if processes.alive(pid)]
    assert alive == []
    assert processes_mentioning(home, "cmdline", "environ", "mountinfo") == []
    host_links = subprocess.run(
        ["ip", "-o", "addr"], capture_output=True, text=True, check=True
    ).stdout
    # The node's address (10.243.0.1), the pod network (10.244/16) and its bridge mp0.
    assert "mp0" not in host_links and " 10.243." not in host_links and " 10.244." not in host_links
    for hierarchy in sorted(cgroups.CGROUP_FS.iterdir()):
        assert not (hierarchy / layout.cgroup_root.strip("/")).exists(), hierarchy
    assert not (real.home / "state.json").exists()
    assert cluster.running()
