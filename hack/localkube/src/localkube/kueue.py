"""Kueue beside a local cluster, installed as the control plane is: built from its Go module
(``hack/localkube/build.sh kueue``, ``make kueue``), its CRDs from the same module, and its
manager as a host process on loopback with the cluster's admin kubeconfig.

Its webhooks are registered by URL (``https://127.0.0.1:<port>/...``; caBundle: the
cluster CA, which issued the serving cert): the apiserver runs on the host and reaches
them there. Only the webhooks of the integrations enabled here are registered (Kueue's
own objects and ``batch/v1`` Jobs): a registered path the manager does not serve would,
with ``failurePolicy: Fail``, refuse every such object. :meth:`Kueue.stop` removes them
with the manager, so the cluster creates Jobs again without it.

Kueue reads its metrics serving cert from the fixed path ``/etc/kueue/metrics/certs``
when its internal cert management is off. The manager runs in a private mount namespace
whose ``/etc`` is an overlay with an upper directory of our own: the cert is there for
it, and the host's ``/etc`` is untouched.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localkube import processes
from localkube.certs import Pair, ensure_loopback_serving
from localkube.cluster import Cluster, repo_root

BUILD = repo_root() / "hack" / "localkube" / "build.sh"
# Webhooks that exist only for the integrations this configuration enables.
_SERVED_GROUPS = {"kueue.x-k8s.io", "batch"}
_WEBHOOKS = "kueue-localkube"  # name of both webhook configurations


def build() -> Path:
    """Kueue's build directory (``kueue``, ``crds/``); a cold build takes minutes, once."""
    built = subprocess.run(
        ["bash", str(BUILD), "kueue"], capture_output=True, text=True, timeout=3600, check=False
    )
    if built.returncode != 0:
        raise RuntimeError(f"hack/localkube/build.sh kueue failed:\n{built.stderr[-4000:]}")
    return Path(built.stdout.strip().splitlines()[-1])


@dataclass
class Kueue:
    cluster: Cluster
    home: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> Path:
        return self.home / "kueue.log"

    def logs(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
            self.cluster.kubectl("delete", kind, _WEBHOOKS, "--ignore-not-found", check=False)
        processes.terminate(self.process.pid, grace=10.0)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


@contextmanager
def running(cluster: Cluster, *, timeout: float = 120.0) -> Iterator[Kueue]:
    """Kueue's CRDs on ``cluster`` and its manager running until the block ends."""
    built = build()
    cluster.kubectl("apply", "--server-side", "-f", str(built / "crds"))
    for path in sorted((built / "crds").glob("*.yaml")):
        group, plural = path.name.removesuffix(".yaml").split("_")
        crd = f"crd/{plural}.{group}"
        cluster.kubectl("wait", "--for=condition=Established", crd, "--timeout=60s")
    home = cluster.home / "kueue"
    health, metrics, webhook = processes.free_ports(3)
    certs = ensure_loopback_serving(
        cluster.home / "pki",
        Pair(home / "certs" / "tls.crt", home / "certs" / "tls.key"),
        cn="kueue-webhook",
    )
    config = home / "config.yaml"
    config.write_text(yaml.safe_dump(_configuration(health, metrics, webhook, certs.cert.parent)))
    kueue = Kueue(cluster, home, _start(built / "kueue", home, config, cluster.kubeconfig, certs))
    try:
        _wait_ready(kueue, health, timeout=timeout)
        cluster.kubectl("apply", "-f", "-", input=_webhooks(built, webhook, cluster))
        yield kueue
    finally:
        kueue.stop()


def _configuration(health: int, metrics: int, webhook: int, cert_dir: Path) -> dict[str, Any]:
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": "kube-system",
        "health": {"healthProbeBindAddress": f"127.0.0.1:{health}"},
        "metrics": {"bindAddress": f"127.0.0.1:{metrics}"},
        "webhook": {"host": "127.0.0.1", "port": webhook, "certDir": str(cert_dir)},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "integrations": {"frameworks": ["batch/job"]},
    }


def _start(
    binary: Path, home: Path, config: Path, kubeconfig: Path, certs: Pair
) -> subprocess.Popen[bytes]:
    upper, work = home / "etc" / "upper", home / "etc" / "work"
    for directory in (upper, work):
        directory.mkdir(parents=True, exist_ok=True)
    metrics_certs = "/etc/kueue/metrics/certs"
    script = (
        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={upper},workdir={work} /etc"
        f" && mkdir -p {metrics_certs} && cp {certs.cert} {certs.key} {metrics_certs}/"
        f' && exec "$0" --config {config} --kubeconfig {kubeconfig}'
        # The visibility API server needs an APIService and certs of its own; unused here.
        " --feature-gates=VisibilityOnDemand=false"
    )
    log = (home / "kueue.log").open("ab")
    return subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(binary)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_ready(kueue: Kueue, port: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kueue.process.poll() is not None:
            raise RuntimeError(f"kueue exited with {kueue.process.returncode}:\n{kueue.logs()}")
        with (
            suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"kueue was not ready within {timeout:.0f}s:\n{kueue.logs()}")


def _webhooks(built: Path, port: int, cluster: Cluster) -> str:
    """Kueue's webhook configurations, by URL on loopback, for the integrations enabled."""
    bundle = base64.b64encode(cluster.pki.ca.cert.read_bytes()).decode()
    documents = []
    for document in yaml.safe_load_all((built / "webhooks.yaml").read_text()):
        if not document:
            continue
        hooks = []
        for hook in document["webhooks"]:
            groups = {g for rule in hook["rules"] for g in rule["apiGroups"]}
            if not groups <= _SERVED_GROUPS:
                continue
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}", "caBundle": bundle}
            hooks.append(hook)
        document["metadata"] = {"name": _WEBHOOKS}
        document["webhooks"] = hooks
        documents.append(document)
    return "\n---\n".join(json.dumps(d) for d in documents)
