"""Start, reuse and stop a local Kubernetes control plane plus our node agent.

Each cluster lives in ``<repo>/.localkube/<name>/``: PKI, kubeconfig, etcd data,
agent state, logs and ``state.json`` (ports, pids). Several clusters can run at
once (e.g. ``test`` and ``demo``): ports are picked free, and each cluster gets
its own pod-IP prefix in 127.0.0.0/8.

Start-up order::

    etcd -> kube-apiserver (/readyz) -> kube-controller-manager, kube-scheduler,
    provisioner, node agent -> Node Ready + default ServiceAccount present
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localkube import api, binaries, components, images, kubeconfig, processes
from localkube.certs import Pki, ensure_pki
from localkube.node import dns
from localkube.node import setup as realnode
from localkube.node.config import NodeLayout

# "agent": the Python node agent (pods as host processes); "real": kubelet,
# containerd and runc in a network namespace of the cluster's own (node/).
NODE_KINDS = ("agent", "real")
Log = Callable[[str], None]


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
    def ip_prefix(self) -> str:
        return str(self.state["ipPrefix"])

    @property
    def agent_state_dir(self) -> Path:
        return self.home / "agent"

    @property
    def node_kind(self) -> str:
        return str(self.state.get("node", "agent"))

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
        node: str | None = None,
        timeout: float = 180.0,
        log: Log = _stderr,
    ) -> Cluster:
        """Start the cluster, or reuse it when it is already running and healthy.
        ``node`` (default: $LOCALKUBE_NODE, else "agent") picks the node kind."""
        _check_name(name)
        kind = node or os.environ.get("LOCALKUBE_NODE") or "agent"
        if kind not in NODE_KINDS:
            raise ClusterError(f"unknown node kind {kind!r}: use one of {', '.join(NODE_KINDS)}")
        cluster = cls.at(name)
        if cluster.running() and cluster.node_kind == kind:
            log(f"Reused running cluster {name!r} at {cluster.server}")
            return cluster
        cluster.bin_dir = binaries.ensure(log=log)
        cluster.down(quiet=True)
        cluster._start(kind=kind, timeout=timeout, log=log)
        return cluster

    def running(self) -> bool:
        pids = self.state.get("pids", {})
        if not pids or not all(processes.alive(p) for p in pids.values()):
            return False
        return api.healthy(self.server, self.pki)

    def down(self, *, quiet: bool = False, log: Log = _stderr) -> None:
        """Stop every process this cluster started and remove its runtime data."""
        pids = self.state.get("pids", {})
        # The node first (the agent stops its pods' processes itself; a real node
        # is torn down with its namespaces and cgroups).
        realnode.teardown(
            self.node_layout, init_pid=pids.get("node"), forwarder_pid=pids.get("forwarder")
        )
        order = ["agent", "provisioner", "kube-scheduler", "kube-controller-manager"]
        order += ["kube-apiserver", "etcd"]
        for comp in order:
            if comp in pids:
                processes.terminate(pids[comp], grace=20.0 if comp == "agent" else 10.0)
        markers = [str(self.home)]
        if "apiserver" in self.state.get("ports", {}):
            markers.append(f"KUBERNETES_SERVICE_PORT={self.state['ports']['apiserver']}")
        processes.kill_strays(markers)
        for sub in ("etcd", "agent", "node", "logs"):
            shutil.rmtree(self.home / sub, ignore_errors=True)
        for f in ("state.json", "kubeconfig"):
            (self.home / f).unlink(missing_ok=True)
        self.state = {}
        if pids and not quiet:
            log(f"Stopped cluster {self.name!r}")

    def _start(self, *, kind: str, timeout: float, log: Log) -> None:
        t0 = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        pki = self.pki
        self.state = {
            "ports": processes.free_ports(5),
            "ipPrefix": _ip_prefix(str(self.home)),
            "pids": {},
            "node": kind,
        }
        ports = dict(
            zip(
                ["etcd", "etcdPeer", "apiserver", "kubelet", "cm"],
                self.state["ports"],
                strict=False,
            )
        )
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
        self.start_provisioner()
        node_pid = self._start_node(deadline=t0 + timeout, log=log)
        logs = self.node_layout.home / "logs" if node_pid == "node" else "the agent log"
        api.wait_node_ready(
            self.server,
            pki,
            self.node_name,
            deadline=t0 + timeout,
            alive=self._pid_check(node_pid),
            logs=str(logs),
        )
        api.wait_default_sa(self.server, pki, deadline=t0 + timeout)
        if self.node_kind == "real":
            self._start_dns(deadline=t0 + timeout)
        self._save()
        log(
            f"Cluster {self.name!r} ready in {time.monotonic() - t0:.1f}s; "
            f"KUBECONFIG={self.kubeconfig}"
        )

    # ----- the node agent and the provisioner (restartable on their own) -------
    def _start_node(self, *, deadline: float, log: Log) -> str:
        """Start the node; return the name of its process in ``state["pids"]``."""
        if self.node_kind != "real":
            self.start_agent()
            return "agent"
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
        return "node"

    def start_agent(self) -> None:
        pki = self.pki
        self._spawn(
            "agent",
            [
                sys.executable,
                "-m",
                "localkube.agent",
                "--kubeconfig",
                str(self.home / "agent.kubeconfig"),
                "--node-name",
                self.node_name,
                "--state-dir",
                str(self.agent_state_dir),
                "--ip-prefix",
                self.ip_prefix,
                "--kubelet-port",
                str(self.state["ports"]["kubelet"]),
                "--tls-cert",
                str(pki.kubelet_serving.cert),
                "--tls-key",
                str(pki.kubelet_serving.key),
                "--client-ca",
                str(pki.ca.cert),
                "--venv-bin",
                str(Path(sys.executable).parent),
            ],
        )
        self._save()

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

    def stop_agent(self, *, kill: bool = False) -> None:
        """Stop the agent alone; ``kill`` sends SIGKILL, as a crash would."""
        pid = self.state.get("pids", {}).pop("agent", None)
        if pid is not None:
            if kill:
                processes.send_signal(pid, signal.SIGKILL)
                processes.wait_gone(pid, 10.0)
            else:
                processes.terminate(pid, grace=20.0)
        self._save()

    def start_provisioner(self) -> None:
        self._spawn(
            "provisioner",
            [
                sys.executable,
                "-m",
                "localkube.provisioner",
                "--kubeconfig",
                str(self.home / "agent.kubeconfig"),
                "--root",
                str(self.agent_state_dir / "pvc"),
            ],
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


def _ip_prefix(home: str) -> str:
    """A per-cluster /16 of loopback for pod IPs, stable for a given cluster
    directory (so two checkouts' "test" clusters do not share pod IPs)."""
    digest = int(hashlib.sha256(home.encode()).hexdigest(), 16)
    return f"127.{10 + digest % 240}"
