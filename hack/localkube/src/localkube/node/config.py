"""The real node's configuration files, rendered from one frozen layout.

Pure: nothing here starts a process or touches the host. Every path a component
would otherwise pick on its own (containerd's root, state and socket, the kubelet's
root and pod-log directories, CNI's IPAM store) is set to a directory of the
cluster's own, so that a node touches nothing outside ``.localkube/NAME/node``
and the namespaces localkube creates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localkube.node.dns import DNS_IP

# Addresses that exist only inside the nodes' network namespaces (and their pods').
# Node i (0-based) is 10.243.0.<i+1> on its netns' loopback (InternalIP, the kubelet,
# for node 0 the API forwarder too) and runs its pods in 10.244.<i>.0/24, on bridge
# BRIDGE; the nodes' namespaces are linked with veth pairs (``localkube.node.links``).
MAX_NODES = 8
NODE_IP = "10.243.0.1"  # the first node's: the kubernetes Service's endpoint, reach helpers
CLUSTER_CIDR = "10.244.0.0/16"
BRIDGE = "mp0"
KUBELET_PORT = 10250
PAUSE_IMAGE = "localhost/modelpipe-pause:local"
CNI_BIN_DIR = "/usr/lib/cni"

# Host-wide kernel settings the kubelet insists on (it writes them unless they
# already read as wanted). The node's private mount namespace shows it files with
# these values instead, so the host's sysctls are never changed.
KUBELET_SYSCTLS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}


@dataclass(frozen=True)
class NodeLayout:
    """Where one node keeps everything, and the names it goes by."""

    cluster: str
    home: Path  # .localkube/NAME/node (the first node), .localkube/NAME/node-<i+1>
    api_port: int
    index: int = 0  # 0-based; a one-node cluster has node 0 only

    @property
    def node_name(self) -> str:
        suffix = f"-{self.index + 1}" if self.index else ""
        return f"localkube-{self.cluster}{suffix}"

    @property
    def node_ip(self) -> str:
        return node_ip(self.index)

    @property
    def pod_subnet(self) -> str:
        return pod_subnet(self.index)

    @property
    def host_tag(self) -> str:
        """Unique on this host: worktrees' "test" clusters must not share a
        network namespace or a cgroup subtree."""
        digest = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:8]
        return f"localkube-{self.cluster}-{digest}"

    @property
    def netns(self) -> str:
        return self.host_tag

    @property
    def cgroup_root(self) -> str:
        return f"/{self.host_tag}"

    @property
    def containerd_socket(self) -> Path:
        return self.home / "containerd.sock"

    @property
    def egress_socket(self) -> Path:
        return self.home / "egress.sock"

    @property
    def image_store(self) -> Path:
        """containerd's root: its content store and snapshots. Kept across
        ``localkube down`` (outside ``home``), so a warm start imports no image.
        Each node has its own: two containerds never share a root."""
        suffix = f"-{self.index + 1}" if self.index else ""
        return self.home.parent / f"containerd-root{suffix}"

    def path(self, *parts: str) -> Path:
        return self.home.joinpath(*parts)


def node_ip(index: int) -> str:
    return f"10.243.0.{index + 1}"


def pod_subnet(index: int) -> str:
    return f"10.244.{index}.0/24"


def node_home(cluster_home: Path, index: int) -> Path:
    return cluster_home / ("node" if index == 0 else f"node-{index + 1}")


def containerd_toml(layout: NodeLayout) -> str:
    """containerd 1.6 (config version 2) with its own root, state and socket."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f'root = "{layout.image_store}"',
            f'state = "{layout.path("containerd", "state")}"',
            "disabled_plugins = ["
            + ", ".join(
                f'"io.containerd.{p}"'
                for p in (
                    "snapshotter.v1.btrfs",
                    "snapshotter.v1.zfs",
                    "snapshotter.v1.aufs",
                    "snapshotter.v1.devmapper",
                    "tracing.processor.v1.otlp",
                )
            )
            + "]",
            "[grpc]",
            f'  address = "{layout.containerd_socket}"',
            # The opt plugin would otherwise create /opt/containerd on the host.
            '[plugins."io.containerd.internal.v1.opt"]',
            f'  path = "{layout.path("containerd", "opt")}"',
            f"[{cri}]",
            f'  sandbox_image = "{PAUSE_IMAGE}"',
            # oom_score_adj cannot be lowered here; without this every sandbox fails
            # with "can't get final child's PID from pipe: EOF".
            "  restrict_oom_score_adj = true",
            '  stream_server_address = "127.0.0.1"',
            '  stream_server_port = "0"',
            "  enable_selinux = false",
            f"[{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"[{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{cri}.containerd.runtimes.runc.options]",
            "  SystemdCgroup = false",
            f"[{cri}.cni]",
            f'  bin_dir = "{CNI_BIN_DIR}"',
            f'  conf_dir = "{layout.path("cni")}"',
            "  max_conf_num = 1",
            "",
        ]
    )


def cni_conflist(layout: NodeLayout) -> str:
    """A bridge inside the node netns; no masquerade and no route beyond it."""
    doc: dict[str, Any] = {
        "cniVersion": "1.0.0",
        "name": "localkube",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": layout.pod_subnet}]],
                    # Pods route everything to the node (Services are DNATed there);
                    # the node netns itself has no route out.
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.path("cni-ipam")),
                },
            }
        ],
    }
    return json.dumps(doc, indent=2)


def kubelet_config(layout: NodeLayout, *, ca: Path, cert: Path, key: Path) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This host: cgroup v1 (refused by default since 1.35), no systemd, swap
        # unchecked, no system slices to reserve from.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": layout.cgroup_root,
        "cgroupsPerQOS": True,
        "failSwapOn": False,
        "enforceNodeAllocatable": [],
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "podLogsDir": str(layout.path("pod-logs")),
        "address": layout.node_ip,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "tlsCertFile": str(cert),
        "tlsPrivateKeyFile": str(key),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "Webhook"},
        "registerNode": True,
        "maxPods": 110,
        "serializeImagePulls": False,
        "clusterDomain": "cluster.local",
        "clusterDNS": [DNS_IP],
        "resolvConf": "/etc/resolv.conf",
        # A shared development disk: evict only when it is really full, and never
        # garbage-collect the locally built images (they cannot be pulled again).
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "protectKernelDefaults": False,
        "nodeStatusUpdateFrequency": "10s",
        "shutdownGracePeriod": "0s",
        "logging": {"format": "text"},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def kube_proxy_config(layout: NodeLayout, *, kubeconfig: Path) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "clusterCIDR": CLUSTER_CIDR,
        "hostnameOverride": layout.node_name,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        # Host-wide conntrack settings are not ours to change: leave them alone.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


def egress_selector(layout: NodeLayout) -> str:
    """The API server reaches nodes and pods (logs, exec, port-forward, proxy)
    through an HTTP CONNECT proxy on a unix socket that dials inside the node netns."""
    doc: dict[str, Any] = {
        "apiVersion": "apiserver.k8s.io/v1beta1",
        "kind": "EgressSelectorConfiguration",
        "egressSelections": [
            {
                "name": "cluster",
                "connection": {
                    "proxyProtocol": "HTTPConnect",
                    "transport": {"uds": {"udsName": str(layout.egress_socket)}},
                },
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)
