"""The chart against the real local apiserver: dry-run, Pod Security, install, upgrade, uninstall.

Every release gets a unique name, since its ClusterRole and peering objects are
cluster-scoped and other tests share the cluster.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.packaging.chart_helpers import apply_crds

from localkube.cluster import Cluster
from localkube.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelpipe"
# The shared cluster's CRDs belong to no release (other tests use them), so releases
# here leave them alone: crds.enabled=false.
NO_CRDS = ["--set", "crds.enabled=false"]
HelmRun = Any  # conftest's fixtures; test modules cannot import conftest
INSTANCE = "app.kubernetes.io/instance"

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> None:
    """What `helm install` does first (tests.packaging.chart_helpers)."""
    apply_crds(cluster)


@pytest.fixture
def watched(cluster: Cluster) -> Iterator[list[str]]:
    """Two extra namespaces for namespaced mode, deleted afterwards."""
    names = [f"watched-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for name in names:
        cluster.kubectl("create", "namespace", name)
    yield names
    for name in names:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def release_name() -> str:
    return f"mp{uuid.uuid4().hex[:6]}"


def mode_values(mode: str, watched: list[str]) -> list[str]:
    values = []
    if mode.startswith("namespaces"):
        values += [
            "--set",
            "watch.scope=namespaces",
            "--set",
            f"watch.namespaces={{{','.join(watched)}}}",
        ]
    if mode.endswith("peering"):
        values += [
            "--set",
            "leader.strategy=peering",
            "--set",
            f"leader.peeringName={uuid.uuid4().hex[:8]}",
        ]
    return values


@pytest.mark.usefixtures("crds")
@pytest.mark.parametrize("mode", ["cluster", "namespaces", "cluster-peering", "namespaces-peering"])
def test_server_side_dry_run_accepts_every_manifest(
    helm: HelmRun, cluster: Cluster, namespace: str, watched: list[str], mode: str
) -> None:
    rendered = helm(
        "template", release_name(), str(CHART), "--namespace", namespace,
        "--include-crds", *mode_values(mode, watched),
    ).stdout  # fmt: skip
    result = cluster.kubectl(
        "apply", "--dry-run=server", "--server-side", "--field-manager=packaging-tests",
        "--force-conflicts", "-f", "-", input=rendered, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    applied = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    assert len(applied) == len(documents), result.stdout
    assert "Warning" not in result.stderr, result.stderr


def _operator_pod(helm: HelmRun, namespace: str, *, escalate: bool = False) -> str:
    rendered = helm("template", release_name(), str(CHART), "--namespace", namespace).stdout
    (deployment,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"]
    template = deployment["spec"]["template"]
    if escalate:
        template["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", **template["metadata"]}}
    pod["spec"] = {**template["spec"], "serviceAccountName": "default"}
    return json.dumps(pod)


@pytest.mark.parametrize("escalate", [False, True], ids=["chart-pod", "negative-control"])
def test_operator_pod_is_admitted_under_pod_security_restricted(
    helm: HelmRun, cluster: Cluster, namespace: str, escalate: bool
) -> None:
    cluster.kubectl(
        "label", "namespace", namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )  # fmt: skip
    pod = _operator_pod(helm, namespace, escalate=escalate)
    create = ["create", "--dry-run=server", "--namespace", namespace, "-f", "-"]
    result = cluster.kubectl(*create, input=pod, check=False)
    for _ in range(10):  # the admission plugin sees the new label through an informer
        if not escalate or result.returncode != 0:
            break
        time.sleep(0.5)
        result = cluster.kubectl(*create, input=pod, check=False)
    if escalate:
        assert result.returncode != 0 and 'violates PodSecurity "restricted' in result.stderr
    else:
        assert result.returncode == 0, result.stderr


def _labelled_leftovers(cluster: Cluster, release: str) -> list[str]:
    """Every object anywhere labelled as this release's, CRDs excepted."""
    kinds = cluster.kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
    kinds = [k for k in kinds if k not in {"events", "events.events.k8s.io"}]
    found = cluster.kubectl(
        "get", ",".join(kinds), "--all-namespaces", "-l", f"{INSTANCE}={release}",
        "-o", "name", check=False,
    )  # fmt: skip
    return [line for line in found.stdout.splitlines() if "customresourcedefinition" not in line]


@pytest.mark.usefixtures("crds")
def test_install_upgrade_uninstall_leave_nothing_but_crds(
    helm: HelmRun, cluster: Cluster, namespace: str, watched: list[str]
) -> None:
    release = release_name()
    kubeconfig = cluster.kubeconfig
    common = ["--namespace", namespace, "--set", "replicaCount=0", *NO_CRDS]
    helm("install", release, str(CHART), *common, *mode_values("namespaces-peering", watched),
         kubeconfig=kubeconfig)  # fmt: skip
    installed = _labelled_leftovers(cluster, release)
    assert sum("role.rbac" in o for o in installed) == 2, installed
    assert sum("kopfpeering" in o for o in installed) == 2, installed
    notes = helm("get", "notes", release, "--namespace", namespace, kubeconfig=kubeconfig).stdout
    assert "in any other namespace are IGNORED" in notes

    # Narrow to one namespace and drop peering: the obsolete objects must go.
    narrowed = ["--set", "watch.scope=namespaces", "--set", f"watch.namespaces={{{watched[0]}}}"]
    helm("upgrade", release, str(CHART), *common, *narrowed, kubeconfig=kubeconfig)
    upgraded = _labelled_leftovers(cluster, release)
    assert sorted(o for o in upgraded if "role" in o) == [
        f"role.rbac.authorization.k8s.io/{release}-modelpipe",
        f"rolebinding.rbac.authorization.k8s.io/{release}-modelpipe",
    ]
    assert not [o for o in upgraded if "kopfpeering" in o], upgraded
    roles = cluster.kubectl("get", "roles", "-A", "-l", f"{INSTANCE}={release}", "-o", "json")
    assert [r["metadata"]["namespace"] for r in json.loads(roles.stdout)["items"]] == [watched[0]]

    helm("uninstall", release, "--namespace", namespace, "--wait", kubeconfig=kubeconfig)
    assert _labelled_leftovers(cluster, release) == []
    crd = cluster.kubectl("get", "crd", "modelpipelines.modelpipe.io", check=False)
    assert crd.returncode == 0, "helm keeps the CRDs on uninstall, as it documents"


@pytest.mark.usefixtures("crds")
def test_cluster_mode_operator_pod_serves_pipelines_in_any_namespace(
    helm: HelmRun, cluster: Cluster, namespace: str
) -> None:
    """The ClusterRole path: the pod runs under its ServiceAccount and reconciles anywhere.

    The pipeline is suspended, so the check needs no training: the operator must
    read it and write its status from another namespace than its own.
    """
    release = release_name()
    elsewhere = f"elsewhere-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", elsewhere)
    try:
        helm("install", release, str(CHART), "--namespace", namespace, "--wait",
             "--timeout=120s", *NO_CRDS, kubeconfig=cluster.kubeconfig)  # fmt: skip
        pods = json.loads(
            cluster.kubectl("get", "pods", "-n", namespace, "-l", f"{INSTANCE}={release}",
                            "-o", "json").stdout
        )["items"]  # fmt: skip
        assert [p["spec"]["serviceAccountName"] for p in pods] == [f"{release}-modelpipe"]
        pipeline = yaml.safe_load(SUSPENDED_PIPELINE)
        cluster.kubectl("apply", "-n", elsewhere, "-f", "-", input=json.dumps(pipeline))

        def written() -> dict[str, Any] | None:
            got = cluster.kubectl("get", "modelpipeline", "idle", "-n", elsewhere, "-o", "json")
            status: dict[str, Any] = json.loads(got.stdout).get("status") or {}
            return status if status.get("observedGeneration") else None

        status = wait_for("the idle pipeline's status", written, timeout=60)
        assert status.get("observedGeneration") == 1, status
        assert [c["type"] for c in status["conditions"] if c["type"] == "Ready"] == ["Ready"]
        jobs = cluster.kubectl("get", "jobs", "-n", elsewhere, "-o", "name").stdout
        assert jobs.strip() == "", "a suspended pipeline starts no run"
    finally:
        helm("uninstall", release, "--namespace", namespace, "--wait",
             kubeconfig=cluster.kubeconfig, check=False)  # fmt: skip
        cluster.kubectl("delete", "namespace", elsewhere, "--wait=false", check=False)


SUSPENDED_PIPELINE = """
apiVersion: modelpipe.io/v1alpha1
kind: ModelPipeline
metadata: {name: idle}
spec:
  suspend: true
  code: {revision: "1"}
  dataset:
    uri: http://127.0.0.1:9/none.csv
    version: v1
    schema: {target: y, features: [{name: x}]}
  training: {estimator: {className: sklearn.linear_model.LogisticRegression}}
  serving: {template: {}}
  artifacts: {pvc: models}
"""
