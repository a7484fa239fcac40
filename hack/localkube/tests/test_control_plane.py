"""The control plane: real etcd, kube-apiserver and controllers, started locally
(on the session's cluster; a second cluster beside it is in test_real_node.py)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from localkube.cluster import Cluster

BUILD = Path(__file__).resolve().parents[1] / "build.sh"


def test_build_without_go_says_what_is_missing(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MODELPIPE_CACHE": str(tmp_path)}
    proc = subprocess.run(["bash", str(BUILD)], env=env, capture_output=True, text=True)
    assert proc.returncode == 3
    assert "Go is not installed" in proc.stderr
    assert "go.dev/dl" in proc.stderr


@pytest.mark.cluster
def test_version_reports_the_pinned_release(cluster: Cluster) -> None:
    out = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == "v1.35.4"
    assert out["clientVersion"]["gitVersion"] == "v1.35.4"


@pytest.mark.cluster
def test_rbac_is_enforced_for_service_accounts(cluster: Cluster, namespace: str) -> None:
    sa = f"system:serviceaccount:{namespace}:default"
    denied = cluster.kubectl(
        "auth", "can-i", "list", "secrets", "-n", namespace, "--as", sa, check=False
    )
    assert denied.stdout.strip() == "no"
    cluster.kubectl(
        "create", "role", "reader", "-n", namespace, "--verb=list", "--resource=configmaps"
    )
    cluster.kubectl(
        "create",
        "rolebinding",
        "reader",
        "-n",
        namespace,
        "--role=reader",
        f"--serviceaccount={namespace}:default",
    )
    allowed = cluster.kubectl(
        "auth", "can-i", "list", "configmaps", "-n", namespace, "--as", sa, check=False
    )
    assert allowed.stdout.strip() == "yes"


@pytest.mark.cluster
def test_default_service_account_and_root_ca_appear(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("get", "serviceaccount", "default", "-n", namespace)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = cluster.kubectl("get", "configmap", "kube-root-ca.crt", "-n", namespace, check=False)
        if got.returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail("kube-root-ca.crt was not published")


@pytest.mark.cluster
def test_a_claim_gets_the_default_class_and_waits_for_its_first_pod(
    cluster: Cluster, namespace: str
) -> None:
    """local-path is the default StorageClass and binds when a pod uses the claim
    (test_real_node follows a claim to its directory)."""
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(claim))
    got = json.loads(cluster.kubectl("get", "pvc", "data", "-n", namespace, "-o", "json").stdout)
    assert got["spec"]["storageClassName"] == "local-path"
    assert got["status"]["phase"] == "Pending"
    assert "volumeName" not in got["spec"]


@pytest.mark.cluster
def test_namespace_with_a_claim_finishes_deleting(cluster: Cluster) -> None:
    ns = f"pvc-delete-{os.getpid()}"
    cluster.kubectl("create", "namespace", ns)
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(claim))
    got = json.loads(cluster.kubectl("get", "pvc", "data", "-n", ns, "-o", "json").stdout)
    assert "kubernetes.io/pvc-protection" in got["metadata"]["finalizers"]
    cluster.kubectl("delete", "namespace", ns, "--timeout=90s")
    gone = cluster.kubectl("get", "namespace", ns, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
