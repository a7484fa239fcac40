"""Bring a real node up and take it down again, from the host's side.

``prepare`` writes the node's files, creates its network namespace
(``ip netns add localkube-NAME``: loopback up, the node address on it, nothing
else) and its cgroup subtree. The cluster then starts the forwarder and the
node's init (``localkube.node.init``); ``load_images`` imports the locally
built images into the node's containerd before the kubelet may start.
``teardown`` leaves no process, mount, namespace, bridge or cgroup behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from localkube import kubeconfig
from localkube.certs import Pki, ensure_node_certs
from localkube.images import Image
from localkube.node import cgroups, config
from localkube.node.config import NodeLayout
from localkube.node.namespaces import (
    add_netns,
    delete_netns,
    in_netns,
    netns_exists,
    netns_path,
    processes_in_netns,
)
from localkube.processes import send_signal, wait_gone

SANDBOX_LOADED = "sandbox-image-loaded"
Log = Callable[[str], None]


class NodeError(RuntimeError):
    """The node could not start; the message says why and where to look."""


def prepare(layout: NodeLayout, *, pki: Pki, pki_dir: Path, server: str, bin_dir: Path) -> Path:
    """Write every file the node needs and create its namespace; return the init spec."""
    home = layout.home
    for sub in ("containerd", "cni", "cni-ipam", "kubelet", "pod-logs", "sysctl", "logs"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    certs = ensure_node_certs(
        pki_dir, node_name=layout.node_name, node_ip=layout.node_ip, index=layout.index
    )
    (home / "containerd" / "config.toml").write_text(config.containerd_toml(layout))
    (home / "cni" / "10-localkube.conflist").write_text(config.cni_conflist(layout))
    kubelet_kc = home / "kubelet.kubeconfig"
    proxy_kc = home / "kube-proxy.kubeconfig"
    for path, user in ((kubelet_kc, certs.kubelet_client), (proxy_kc, certs.kube_proxy)):
        # The forwarder serves the API server's port inside the node netns too.
        path.write_text(
            kubeconfig.render(server=server, ca=pki.ca.cert, user=user, name=layout.node_name)
        )
        path.chmod(0o600)
    (home / "kubelet" / "config.yaml").write_text(
        config.kubelet_config(
            layout,
            ca=pki.ca.cert,
            cert=certs.kubelet_serving.cert,
            key=certs.kubelet_serving.key,
        )
    )
    (home / "kube-proxy.yaml").write_text(config.kube_proxy_config(layout, kubeconfig=proxy_kc))
    _create_netns(layout)
    cgroups.prepare(layout.cgroup_root)
    spec_path = home / "init.json"
    spec_path.write_text(json.dumps(_init_spec(layout, bin_dir, kubelet_kc), indent=2))
    return spec_path


def _create_netns(layout: NodeLayout) -> None:
    if netns_exists(layout.netns):
        delete_netns(layout.netns)
    add_netns(layout.netns)
    in_netns(layout.netns, "ip", "link", "set", "lo", "up")
    in_netns(layout.netns, "ip", "addr", "add", f"{layout.node_ip}/32", "dev", "lo")
    # Service traffic between pods on the one bridge must pass kube-proxy's rules.
    in_netns(layout.netns, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1")


def _init_spec(layout: NodeLayout, bin_dir: Path, kubelet_kc: Path) -> dict[str, object]:
    home, logs = layout.home, layout.home / "logs"
    loaded = str(home / SANDBOX_LOADED)
    return {
        "netns": str(netns_path(layout.netns)),
        "cgroupRoot": layout.cgroup_root,
        "sysctlDir": str(home / "sysctl"),
        "sysctls": config.KUBELET_SYSCTLS,
        "statusFile": str(home / "status.json"),
        "components": [
            {
                "name": "containerd",
                "argv": ["containerd", "--config", str(home / "containerd" / "config.toml")],
                "log": str(logs / "containerd.log"),
            },
            {
                "name": "kubelet",
                "argv": [
                    str(bin_dir / "kubelet"),
                    f"--config={home / 'kubelet' / 'config.yaml'}",
                    f"--kubeconfig={kubelet_kc}",
                    f"--root-dir={home / 'kubelet' / 'root'}",
                    f"--hostname-override={layout.node_name}",
                    f"--node-ip={layout.node_ip}",
                    "--v=1",
                ],
                "log": str(logs / "kubelet.log"),
                "waitFor": loaded,
            },
            {
                "name": "kube-proxy",
                "argv": [str(bin_dir / "kube-proxy"), f"--config={home / 'kube-proxy.yaml'}"],
                "log": str(logs / "kube-proxy.log"),
                "waitFor": loaded,
            },
        ],
    }


def forwarder_argv(layout: NodeLayout, others: Sequence[NodeLayout] = ()) -> list[str]:
    """The forwarder for the first node (``layout``) and any further nodes."""
    also = [a for other in others for a in ("--also-netns", str(netns_path(other.netns)))]
    return [
        sys.executable,
        "-m",
        "localkube.node.forwarder",
        "--netns",
        str(netns_path(layout.netns)),
        "--node-ip",
        config.NODE_IP,
        "--api-port",
        str(layout.api_port),
        "--egress-socket",
        str(layout.egress_socket),
        *also,
    ]


def init_argv(spec: Path) -> list[str]:
    return [sys.executable, "-m", "localkube.node.init", str(spec)]


def load_images(layout: NodeLayout, images: list[Image], *, deadline: float, log: Log) -> None:
    """Import each locally built image into the node's containerd, unless its image
    store already holds that archive. The sandbox image comes first: the kubelet
    starts as soon as it is there (it would otherwise try to pull it), while the
    larger images are still loading."""
    while not layout.containerd_socket.exists():
        if time.monotonic() > deadline:
            raise NodeError(f"containerd did not start; see {layout.home / 'logs'}")
        time.sleep(0.1)
    record = layout.image_store / "imported-archives"
    imported = set(record.read_text().splitlines()) if record.exists() else set()
    for image in sorted(images, key=lambda i: i.ref != config.PAUSE_IMAGE):
        if str(image.archive) not in imported:
            _import(layout, image, record, log)
        if image.ref == config.PAUSE_IMAGE:
            (layout.home / SANDBOX_LOADED).touch()


def _import(layout: NodeLayout, image: Image, record: Path, log: Log) -> None:
    t0 = time.monotonic()
    proc = subprocess.run(
        [*_ctr(layout), "images", "import", str(image.archive)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise NodeError(f"importing {image.ref} from {image.archive} failed: {proc.stderr}")
    with record.open("a") as out:
        out.write(f"{image.archive}\n")
    log(f"Loaded image {image.ref} into {layout.node_name} ({time.monotonic() - t0:.1f}s)")


def _ctr(layout: NodeLayout) -> list[str]:
    return ["ctr", "--address", str(layout.containerd_socket), "-n", "k8s.io"]


def teardown(layout: NodeLayout, *, init_pid: int | None, forwarder_pid: int | None) -> None:
    """Stop the node and remove every trace of it outside its own directory."""
    if init_pid is not None:
        send_signal(init_pid, signal.SIGTERM)
        if not wait_gone(init_pid, 40.0):
            send_signal(init_pid, signal.SIGKILL)
            wait_gone(init_pid, 5.0)
    cgroups.kill_all(layout.cgroup_root)
    if netns_exists(layout.netns):
        stragglers = processes_in_netns(layout.netns)
        for pid in stragglers:
            send_signal(pid, signal.SIGKILL)
        for pid in stragglers:  # SIGKILL is asynchronous: wait until each has exited
            wait_gone(pid, 5.0)
    if forwarder_pid is not None:
        send_signal(forwarder_pid, signal.SIGTERM)
        wait_gone(forwarder_pid, 5.0)
    cgroups.remove(layout.cgroup_root)
    delete_netns(layout.netns)


def apiserver_args(args: list[str], layout: NodeLayout) -> list[str]:
    """The API server's flags for a real node: the Node authorizer and
    NodeRestriction for the kubelet's identity, the ``kubernetes`` Service's
    endpoint at the node-side forwarder, and cluster traffic through the egress proxy."""
    egress = layout.home.parent / "egress-selector.yaml"
    egress.write_text(config.egress_selector(layout))
    replaced = {
        "--authorization-mode=RBAC": "--authorization-mode=Node,RBAC",
        "--advertise-address=127.0.0.1": f"--advertise-address={config.NODE_IP}",
        "--endpoint-reconciler-type=none": "--endpoint-reconciler-type=lease",
    }
    out = [replaced.get(a, a) for a in args]
    out = [
        a + ",NodeRestriction" if a.startswith("--enable-admission-plugins=") else a for a in out
    ]
    return [*out, f"--egress-selector-config-file={egress}"]


def node_status(layout: NodeLayout) -> str:
    """One line per node component: running or not, and how often it restarted."""
    try:
        status = json.loads((layout.home / "status.json").read_text())
    except (OSError, ValueError):
        return "node: no status yet"
    lines = []
    for name, s in status.items():
        state = f"running (pid {s['pid']})" if s["pid"] else "not running"
        extra = f", restarted {s['restarts']}x, last exit {s['lastExit']}" if s["restarts"] else ""
        lines.append(f"  {name}: {state}{extra}")
    return "node components:\n" + "\n".join(lines)
