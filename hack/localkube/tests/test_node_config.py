"""The real node's configuration: what this host needs, and nothing leaving the node."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import yaml

from localkube.node import config, dns, links
from localkube.node.config import NodeLayout
from localkube.node.setup import apiserver_args, forwarder_argv

LAYOUT = NodeLayout(cluster="t", home=Path("/r/.localkube/t/node"), api_port=4443)


def test_containerd_keeps_to_its_own_directories() -> None:
    doc = tomllib.loads(config.containerd_toml(LAYOUT))
    assert doc["root"] == str(LAYOUT.image_store)  # kept across down: no re-import
    assert doc["state"].startswith(str(LAYOUT.home))
    assert doc["grpc"]["address"] == str(LAYOUT.containerd_socket)
    assert doc["plugins"]["io.containerd.internal.v1.opt"]["path"].startswith(str(LAYOUT.home))
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == config.PAUSE_IMAGE
    assert cri["containerd"]["snapshotter"] == "overlayfs"
    assert cri["cni"]["bin_dir"] == "/usr/lib/cni"


def test_the_pod_network_neither_masquerades_nor_stores_state_on_the_host() -> None:
    bridge = json.loads(config.cni_conflist(LAYOUT))["plugins"][0]
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["dataDir"].startswith(str(LAYOUT.home))


def test_the_kubelet_config_has_what_this_host_needs() -> None:
    doc = yaml.safe_load(
        config.kubelet_config(LAYOUT, ca=Path("/ca"), cert=Path("/c"), key=Path("/k"))
    )
    assert doc["failCgroupV1"] is False
    assert doc["cgroupDriver"] == "cgroupfs"
    assert doc["failSwapOn"] is False
    assert doc["enforceNodeAllocatable"] == []
    assert doc["cgroupRoot"] == f"/{LAYOUT.netns}"
    other = NodeLayout(cluster="t", home=Path("/elsewhere/.localkube/t/node"), api_port=1)
    assert other.netns != LAYOUT.netns  # two worktrees' "t" clusters do not collide
    assert doc["authentication"]["anonymous"]["enabled"] is False
    assert doc["authorization"]["mode"] == "Webhook"
    assert doc["podLogsDir"].startswith(str(LAYOUT.home))


def test_the_api_server_gets_node_authorization_and_the_egress_proxy(tmp_path: Path) -> None:
    layout = NodeLayout(cluster="t", home=tmp_path / "node", api_port=4443)
    args = [
        "--authorization-mode=RBAC",
        "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount",
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
    ]
    out = apiserver_args(args, layout)
    assert "--authorization-mode=Node,RBAC" in out
    assert "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,NodeRestriction" in out
    assert f"--advertise-address={config.NODE_IP}" in out
    egress = yaml.safe_load((tmp_path / "egress-selector.yaml").read_text())
    uds = egress["egressSelections"][0]["connection"]["transport"]["uds"]["udsName"]
    assert uds == str(layout.egress_socket)


def test_cluster_dns_is_what_pods_are_told_and_forwards_nothing() -> None:
    doc = yaml.safe_load(
        config.kubelet_config(LAYOUT, ca=Path("/ca"), cert=Path("/c"), key=Path("/k"))
    )
    service = next(m for m in dns.manifests() if m["kind"] == "Service")
    assert doc["clusterDNS"] == [service["spec"]["clusterIP"]]
    assert "forward" not in dns.COREFILE
    deployment = next(m for m in dns.manifests() if m["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["runAsNonRoot"] is True


def test_each_further_node_has_its_own_name_address_subnet_and_store() -> None:
    cluster_home = Path("/r/.localkube/t")
    first, second = (
        NodeLayout(cluster="t", home=config.node_home(cluster_home, i), api_port=1, index=i)
        for i in range(2)
    )
    assert first == NodeLayout(cluster="t", home=cluster_home / "node", api_port=1)
    assert (first.node_name, second.node_name) == ("localkube-t", "localkube-t-2")
    assert (first.node_ip, second.node_ip) == (config.NODE_IP, "10.243.0.2")
    assert second.home == cluster_home / "node-2"
    assert len({first.netns, second.netns}) == len({first.cgroup_root, second.cgroup_root}) == 2
    assert first.image_store != second.image_store
    bridge = json.loads(config.cni_conflist(second))["plugins"][0]
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]]
    kubelet = yaml.safe_load(
        config.kubelet_config(second, ca=Path("/ca"), cert=Path("/c"), key=Path("/k"))
    )
    assert kubelet["address"] == "10.243.0.2"
    argv = forwarder_argv(first, [second])
    assert argv[argv.index("--also-netns") + 1] == f"/run/netns/{second.netns}"


def test_nodes_are_linked_inside_their_own_namespaces_only() -> None:
    layouts = [
        NodeLayout(cluster="t", home=config.node_home(Path("/r/t"), i), api_port=1, index=i)
        for i in range(3)
    ]
    steps = links.plan(layouts)
    # Every command runs inside one of the nodes' namespaces, never on the host.
    assert {netns for netns, _ in steps} == {layout.netns for layout in layouts}
    veths = [argv for _, argv in steps if argv[:3] == ["ip", "link", "add"]]
    assert len(veths) == 3  # one pair per two nodes
    assert all(argv[argv.index("netns") + 1] in {n.netns for n in layouts} for argv in veths)
    first = [argv for netns, argv in steps if netns == layouts[0].netns]
    assert first[-1][:6] == ["ip", "route", "add", "10.244.2.0/24", "via", "10.243.0.3"]
    # No NAT, no default route: the nodes reach each other's addresses and pods only.
    assert not [argv for _, argv in steps if "iptables" in argv or "default" in argv]
