"""Start, reuse and stop a local Kubernetes: the control plane plus real nodes
(one by default; ``nodes=N`` for more, linked by ``localkube.node.links``).

Each cluster lives in ``<repo>/.localkube/<name>/``: PKI, kubeconfig, etcd data,
the node's files (``node/``), claims' volumes, logs and ``state.json`` (ports,
pids). Several clusters can run at once (e.g. ``test`` and ``demo``): ports are
picked free, and each node has a network namespace and cgroup subtree of its own.

Start-up order::

    etcd -> kube-apiserver (/readyz) -> kube-controller-manager, kube-scheduler,
    provisioner, node (kubelet, containerd, kube-proxy in its netns) -> Node Ready
    + default ServiceAccount present -> CoreDNS ready
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localkube import api, binaries, components, images, kubeconfig, processes
from localkube.certs import Pki, ensure_pki
from localkube.node import dns, links, storage
from localkube.node import setup as realnode
from localkube.node.config import MAX_NODES, NodeLayout, node_home

Log = Callable[[str], None]
# The first start of a node loads its images into containerd: minutes, cold.
START_TIMEOUT = 600.0
STOP_ORDER = ("provisioner", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd")


class ClusterError(RuntimeError):
    """A cluster could not be started; the message says what to do."""


def repo_root() -> Path:
    env = os.environ.get("LOCALKUBE_ROOT")
    if env:
        return Path(env)
    # hack/localkube/src/localkube/cluster.py -> repository root
    return Path(__file__).resolve().parents[4]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Cluster:
    name: str
    home: Path
    bin_dir: Path
    state: dict[str, Any] = field(default_factory=dict)

    # ----- paths and accessors -------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    @property
    def pki(self) -> Pki:
        return ensure_pki(self.home / "pki")

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.state['ports']['apiserver']}"

    @property
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def node_name(self) -> str:
        return f"localkube-{self.name}"

    @property
    def volumes_dir(self) -> Path:
        """Where each claim's volume is a directory, ``<namespace>/<claim>``."""
        return self.home / "volumes"

    @property
    def node_count(self) -> int:
        return int(self.state.get("nodes", 1))

    @property
    def node_layouts(self) -> list[NodeLayout]:
        """Every node's layout, the first node first."""
        port = int(self.state.get("ports", {}).get("apiserver", 0))
        return [
            NodeLayout(cluster=self.name, home=node_home(self.home, i), api_port=port, index=i)
            for i in range(self.node_count)
        ]

    @property
    def node_layout(self) -> NodeLayout:
        """The first node: its netns holds the API forwarder, the ``kubernetes``
        Service's endpoint and what ``localkube.reach`` uses."""
        return self.node_layouts[0]

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster and return its captured output."""
        return subprocess.run(
            [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args],
            check=check,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )

    # ----- lifecycle -----------------------------------------------------------
    @classmethod
    def at(cls, name: str) -> Cluster:
        home = repo_root() / ".localkube" / name
        state_file = home / "state.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        return cls(name=name, home=home, bin_dir=binaries.cache_dir(), state=state)

    @classmethod
    def up(
        cls,
        name: str = "dev",
        *,
        timeout: float = START_TIMEOUT,
        log: Log = _stderr,
        nodes: int = 1,
    ) -> Cluster:
        """Start the cluster with ``nodes`` real nodes, or reuse it when it is already
        running and healthy with that many (one with another count is restarted)."""
        _check_name(name)
        if not 1 <= nodes <= MAX_NODES:
            raise ClusterError(f"--nodes {nodes}: a cluster has 1 to {MAX_NODES} nodes")
        cluster = cls.at(name)
        if cluster.running():
            if cluster.node_count == nodes:
                log(f"Reused running cluster {name!r} at {cluster.server}")
                return cluster
            log(f"Cluster {name!r} runs {cluster.node_count} node(s), not {nodes}: restarting it")
        cluster.bin_dir = binaries.ensure(log=log)
        cluster.down(quiet=True)
        cluster._start(nodes=nodes, timeout=timeout, log=log)
        return cluster

    def running(self) -> bool:
        pids = self.state.get("pids", {})
        # No "node" process: a cluster from before the real node, restarted by ``up``.
        if "node" not in pids or not all(processes.alive(p) for p in pids.values()):
            return False
        return api.healthy(self.server, self.pki)

    def down(self, *, quiet: bool = False, log: Log = _stderr) -> None:
        """Stop every process this cluster started and remove its runtime data."""
        pids = self.state.get("pids", {})
        # The nodes first: their pods go with their namespaces and cgroups. The first
        # node last: with it goes the forwarder, whose sockets hold every node's netns.
        self.state["nodes"] = max(self.node_count, _nodes_on_disk(self.home))
        for layout in reversed(self.node_layouts):
            realnode.teardown(
                layout,
                init_pid=pids.get(_node_pid_key(layout.index)),
                forwarder_pid=pids.get("forwarder") if layout.index == 0 else None,
            )
        # The rest in reverse start order (etcd last); any other pid a cluster of an
        # older localkube recorded goes first.
        node_keys = {_node_pid_key(i) for i in range(self.node_count)}
        for comp in sorted(pids, key=lambda c: STOP_ORDER.index(c) if c in STOP_ORDER else -1):
            if comp not in node_keys and comp != "forwarder":
                processes.terminate(pids[comp], grace=10.0)
        processes.kill_strays(str(self.home))
        # (agent/: what a cluster of an older localkube kept for its node agent.)
        nodes = [layout.home.name for layout in self.node_layouts]
        for sub in ("etcd", *nodes, "volumes", "agent", "logs"):
            shutil.rmtree(self.home / sub, ignore_errors=True)
        for f in ("state.json", "kubeconfig"):
            (self.home / f).unlink(missing_ok=True)
        self.state = {}
        if pids and not quiet:
            log(f"Stopped cluster {self.name!r}")

    def _start(self, *, nodes: int, timeout: float, log: Log) -> None:
        t0 = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        pki = self.pki
        self.state = {
            "ports": processes.free_ports(4),
            "pids": {},
            "nodes": nodes,
        }
        ports = dict(zip(["etcd", "etcdPeer", "apiserver", "cm"], self.state["ports"], strict=True))
        self.state["ports"] = ports
        kubeconfig.write_all(self.home, server=self.server, pki=pki)
        self._spawn("etcd", components.etcd_args(self))
        api.wait_etcd(ports["etcd"], deadline=t0 + timeout, alive=self._pid_check("etcd"))
        self._spawn("kube-apiserver", components.apiserver_args(self))
        api.wait_ready(
            self.server, pki, deadline=t0 + timeout, alive=self._pid_check("kube-apiserver")
        )
        log(f"API server ready at {self.server} ({time.monotonic() - t0:.1f}s)")
        self._spawn("kube-controller-manager", components.controller_manager_args(self))
        self._spawn("kube-scheduler", components.scheduler_args(self))
        self.start_provisioner(log=log)
        self._start_nodes(deadline=t0 + timeout, log=log)
        for layout in self.node_layouts:
            api.wait_node_ready(
                self.server,
                pki,
                layout.node_name,
                deadline=t0 + timeout,
                alive=self._pid_check(_node_pid_key(layout.index)),
                logs=str(layout.home / "logs"),
            )
            self._set_pod_cidr(layout)
        api.wait_default_sa(self.server, pki, deadline=t0 + timeout)
        self._start_dns(deadline=t0 + timeout)
        self._save()
        log(
            f"Cluster {self.name!r} ready in {time.monotonic() - t0:.1f}s; "
            f"KUBECONFIG={self.kubeconfig}"
        )

    # ----- the nodes, cluster DNS and the provisioner ----------------------------
    def _start_nodes(self, *, deadline: float, log: Log) -> None:
        """Start each node's init (kubelet, containerd, kube-proxy), link the nodes'
        namespaces, start the API forwarder and load the images into every node."""
        layouts = self.node_layouts
        bin_dir = binaries.ensure_node(log=log)
        specs = [
            realnode.prepare(
                layout, pki=self.pki, pki_dir=self.home / "pki", server=self.server, bin_dir=bin_dir
            )
            for layout in layouts
        ]
        if len(layouts) > 1:
            try:
                links.link(layouts)
            except links.LinkError as err:
                raise ClusterError(f"linking the nodes' network namespaces: {err}") from err
        self._spawn("forwarder", realnode.forwarder_argv(layouts[0], layouts[1:]))
        for layout, spec in zip(layouts, specs, strict=True):
            self._spawn(_node_pid_key(layout.index), realnode.init_argv(spec))
        node_images = images.ensure_node_images(log=log)
        for layout in layouts:
            realnode.load_images(layout, node_images, deadline=deadline, log=log)

    def _set_pod_cidr(self, layout: NodeLayout) -> None:
        """Record the node's pod subnet (its CNI bridge's range) as its podCIDR; no
        controller allocates one (nodeipam does not run), and it is set only once."""
        cidr = self.kubectl(
            "get", "node", layout.node_name, "-o", "jsonpath={.spec.podCIDR}"
        ).stdout.strip()
        if not cidr:
            patch = {"spec": {"podCIDR": layout.pod_subnet, "podCIDRs": [layout.pod_subnet]}}
            self.kubectl("patch", "node", layout.node_name, "-p", json.dumps(patch))

    def _start_dns(self, *, deadline: float) -> None:
        self.kubectl("apply", "-f", "-", input=dns.manifest_text())
        left = max(1, int(deadline - time.monotonic()))
        wait = self.kubectl(
            *("rollout", "status", "-n", dns.NAMESPACE, "deployment/coredns"),
            *(f"--timeout={left}s",),
            check=False,
        )
        if wait.returncode != 0:
            raise ClusterError(f"cluster DNS (CoreDNS) did not become ready: {wait.stderr}")

    def start_provisioner(self, *, log: Log = _stderr) -> None:
        """Rancher's local-path-provisioner: its configuration, then the process."""
        binary = binaries.ensure_storage(log=log) / "local-path-provisioner"
        nodes = [layout.node_name for layout in self.node_layouts]
        manifest = storage.manifest_text(nodes=nodes, volumes=self.volumes_dir)
        self.kubectl("apply", "-f", "-", input=manifest)
        self._spawn(
            "provisioner", storage.provisioner_argv(binary, self.home / "provisioner.kubeconfig")
        )

    # ----- process helpers -----------------------------------------------------
    def _spawn(self, comp: str, args: list[str]) -> None:
        logfile = (self.home / "logs" / f"{comp}.log").open("ab")
        env = {**os.environ, "LOCALKUBE_CLUSTER": self.name}
        proc = subprocess.Popen(
            args,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.home,
            env=env,
        )
        logfile.close()
        self.state.setdefault("pids", {})[comp] = proc.pid
        self._save()

    def _pid_check(self, comp: str) -> Callable[[], None]:
        def check() -> None:
            pid = self.state["pids"][comp]
            if not processes.alive(pid):
                tail = processes.tail(self.home / "logs" / f"{comp}.log")
                raise ClusterError(f"{comp} exited during start-up; its log ends with:\n{tail}")

        return check

    def _save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "state.json").write_text(json.dumps(self.state, indent=2))


def _node_pid_key(index: int) -> str:
    """``state.json``'s name for node ``index``'s init ("node" for the first)."""
    return "node" if index == 0 else f"node-{index + 1}"


def _nodes_on_disk(home: Path) -> int:
    """How many nodes' directories ``home`` holds (for a ``down`` without state)."""
    indices = [0]
    for path in home.glob("node-*"):
        if path.is_dir() and path.name[5:].isdigit():
            indices.append(int(path.name[5:]) - 1)
    return max(indices) + 1


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c == "-" for c in name) or len(name) > 40:
        raise ClusterError(f"invalid cluster name {name!r}: use letters, digits and '-'")
