"""Two real nodes (``localkube up --nodes 2``): each a netns, containerd, kubelet and
kube-proxy of its own, linked by a veth pair. Pods pinned to either node reach each
other by pod IP, through a ClusterIP Service and by DNS name; ``down`` leaves nothing
of either node. The session's one two-node cluster (``two_nodes``), which tests/e2e's
two-node test uses before this file runs; the last test here takes it down."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localkube import processes
from localkube.cluster import Cluster
from localkube.node import cgroups
from localkube.pytest_plugin import fresh_namespace
from localkube.reach import node_network
from localkube.traces import net_namespace_inodes, processes_mentioning
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

TRAINER = "ghcr.io/modelpipe/modelpipe-trainer:0.1.0"
RESTRICTED = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Answers every GET with the name of the node it runs on.
SERVE = """
import http.server, os
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["NODE"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("0.0.0.0", 8080), Echo).serve_forever()
"""
FETCH = (
    "import sys, urllib.request; "
    "print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
)


@pytest.fixture
def two(two_nodes: Cluster) -> Cluster:
    """The session's two-node cluster (localkube.pytest_plugin)."""
    return two_nodes


@pytest.fixture
def ns(two: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_namespace(two, request.node.name) as name:
        yield name


def _echo(name: str, node: str) -> list[dict[str, Any]]:
    """A pod pinned to ``node`` (by its hostname label) and a ClusterIP Service for it."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "echo",
                    "image": TRAINER,
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", SERVE],
                    "env": [
                        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                    ],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                    "securityContext": RESTRICTED,
                }
            ],
        },
    }
    service: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    return [pod, service]


def test_two_nodes_are_ready_with_distinct_pod_cidrs(two: Cluster) -> None:
    nodes = json.loads(two.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    first, second = two.node_layouts
    assert sorted(by_name) == [first.node_name, second.node_name]
    for layout in (first, second):
        node = by_name[layout.node_name]
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True"
        assert node["spec"]["podCIDRs"] == [layout.pod_subnet]
        addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
        assert addresses["InternalIP"] == layout.node_ip
    assert (first.pod_subnet, second.pod_subnet) == ("10.244.0.0/24", "10.244.1.0/24")
    assert first.netns != second.netns and first.cgroup_root != second.cgroup_root


def test_pods_on_each_node_reach_each_other_by_ip_service_and_dns(two: Cluster, ns: str) -> None:
    first, second = (layout.node_name for layout in two.node_layouts)
    items = [*_echo("echo-a", first), *_echo("echo-b", second)]
    two.kubectl(
        "apply",
        "-n",
        ns,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )
    wait = ("wait", "--for=condition=Ready", "pod/echo-a", "pod/echo-b", "-n", ns)
    ready = two.kubectl(*wait, "--timeout=180s", check=False)
    assert ready.returncode == 0, two.kubectl("get", "events", "-n", ns, check=False).stdout
    pods = {}
    for name in ("echo-a", "echo-b"):
        pods[name] = json.loads(two.kubectl("get", "pod", name, "-n", ns, "-o", "json").stdout)
    assert pods["echo-a"]["spec"]["nodeName"] == first
    assert pods["echo-b"]["spec"]["nodeName"] == second
    assert pods["echo-a"]["status"]["podIP"].startswith("10.244.0.")
    assert pods["echo-b"]["status"]["podIP"].startswith("10.244.1.")

    for client, server, node in (("echo-a", "echo-b", second), ("echo-b", "echo-a", first)):
        ip = pods[server]["status"]["podIP"]
        cluster_ip = two.kubectl(
            "get", "service", server, "-n", ns, "-o", "jsonpath={.spec.clusterIP}"
        ).stdout
        for url in (
            f"http://{ip}:8080/",
            f"http://{cluster_ip}/",
            f"http://{server}.{ns}.svc.cluster.local/",
        ):

            def fetch(url: str = url, client: str = client) -> str | None:
                argv = ("exec", client, "-n", ns, "--", "python", "-c", FETCH, url)
                out = two.kubectl(*argv, check=False, timeout=30)
                return out.stdout.strip() if out.returncode == 0 else None

            assert wait_for(f"{client} to fetch {url}", fetch, timeout=60) == node

    # localkube.reach works from the first node's namespace, the other node's pods too.
    with node_network(two):
        url = f"http://{pods['echo-b']['status']['podIP']}:8080/"
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert answer.read().decode() == second


def test_down_leaves_nothing_of_either_node(two: Cluster, ns: str, cluster: Cluster) -> None:
    first, second = two.node_layouts
    two.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(_echo("left", second.node_name)[0]))
    two.kubectl("wait", "--for=condition=Ready", "pod/left", "-n", ns, "--timeout=180s")
    inodes = {(Path("/run/netns") / layout.netns).stat().st_ino for layout in (first, second)}
    node_processes = {pid for pid, ino in net_namespace_inodes().items() if ino in inodes}
    containers = cgroups.pids(second.cgroup_root)
    assert containers and node_processes
    home = str(two.home).encode()

    two.down()

    netns_list = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for layout in (first, second):
        assert layout.netns not in netns_list
        assert not (Path("/run/netns") / layout.netns).exists()
        assert not layout.home.exists()
        for hierarchy in sorted(cgroups.CGROUP_FS.iterdir()):
            assert not (hierarchy / layout.cgroup_root.strip("/")).exists(), hierarchy
    # With none of their processes left, the namespaces (veths, bridges, routes) are gone;
    # their inode numbers may already name another namespace someone else just made.
    still_inside = {pid for pid, ino in net_namespace_inodes().items() if ino in inodes}
    assert not still_inside & node_processes
    assert [pid for pid in node_processes | containers if processes.alive(pid)] == []
    assert processes_mentioning(home, "cmdline", "environ", "mountinfo") == []
    host = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    host += subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    for trace in ("mp0", " lk0", " lk1", " 10.243.", " 10.244."):
        assert trace not in host
    assert not (two.home / "state.json").exists()
    assert cluster.running()
