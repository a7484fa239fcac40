"""The real node's configuration: what this host needs, and nothing leaving the node."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import yaml

from localkube.node import config, dns
from localkube.node.config import NodeLayout
from localkube.node.setup import apiserver_args

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
