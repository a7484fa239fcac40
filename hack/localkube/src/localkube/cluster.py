"""Start, reuse and stop a local Kubernetes: the control plane plus one real node.

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
from localkube.node import dns, storage
from localkube.node import setup as realnode
from localkube.node.config import NodeLayout

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
    def node_layout(self) -> NodeLayout:
        port = int(self.state.get("ports", {}).get("apiserver", 0))
        return NodeLayout(cluster=self.name, home=self.home / "node", api_port=port)

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
    ) -> Cluster:
        """Start the cluster, or reuse it when it is already running and healthy."""
        _check_name(name)
        cluster = cls.at(name)
        if cluster.running():
            log(f"Reused running cluster {name!r} at {cluster.server}")
            return cluster
        cluster.bin_dir = binaries.ensure(log=log)
        cluster.down(quiet=True)
        cluster._start(timeout=timeout, log=log)
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
        # The node first: its pods go with its namespaces and cgroups.
        realnode.teardown(
            self.node_layout, init_pid=pids.get("node"), forwarder_pid=pids.get("forwarder")
        )
        # The rest in reverse start order (etcd last); any other pid a cluster of an
        # older localkube recorded goes first.
        for comp in sorted(pids, key=lambda c: STOP_ORDER.index(c) if c in STOP_ORDER else -1):
            if comp not in ("node", "forwarder"):
                processes.terminate(pids[comp], grace=10.0)
        processes.kill_strays(str(self.home))
        # (agent/: what a cluster of an older localkube kept for its node agent.)
        for sub in ("etcd", "node", "volumes", "agent", "logs"):
            shutil.rmtree(self.home / sub, ignore_errors=True)
        for f in ("state.json", "kubeconfig"):
            (self.home / f).unlink(missing_ok=True)
        self.state = {}
        if pids and not quiet:
            log(f"Stopped cluster {self.name!r}")

    def _start(self, *, timeout: float, log: Log) -> None:
        t0 = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        pki = self.pki
        self.state = {
            "ports": processes.free_ports(4),
            "pids": {},
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
        self._start_node(deadline=t0 + timeout, log=log)
        api.wait_node_ready(
            self.server,
            pki,
            self.node_name,
            deadline=t0 + timeout,
            alive=self._pid_check("node"),
            logs=str(self.node_layout.home / "logs"),
        )
        api.wait_default_sa(self.server, pki, deadline=t0 + timeout)
        self._start_dns(deadline=t0 + timeout)
        self._save()
        log(
            f"Cluster {self.name!r} ready in {time.monotonic() - t0:.1f}s; "
            f"KUBECONFIG={self.kubeconfig}"
        )

    # ----- the node, cluster DNS and the provisioner -----------------------------
    def _start_node(self, *, deadline: float, log: Log) -> None:
        """Start the node's init (kubelet, containerd, kube-proxy) and its API forwarder."""
        layout = self.node_layout
        spec = realnode.prepare(
            layout,
            pki=self.pki,
            pki_dir=self.home / "pki",
            server=self.server,
            bin_dir=binaries.ensure_node(log=log),
        )
        self._spawn("forwarder", realnode.forwarder_argv(layout))
        self._spawn("node", realnode.init_argv(spec))
        realnode.load_images(layout, images.ensure_node_images(log=log), deadline=deadline, log=log)

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
        manifest = storage.manifest_text(node=self.node_name, volumes=self.volumes_dir)
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


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c == "-" for c in name) or len(name) > 40:
        raise ClusterError(f"invalid cluster name {name!r}: use letters, digits and '-'")
