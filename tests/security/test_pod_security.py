"""Every pod the operator makes passes Pod Security "restricted", as the real apiserver enforces it.

The namespace carries ``pod-security.kubernetes.io/enforce=restricted`` (and ``warn``):
the PodSecurity admission plugin refuses a non-compliant Pod and warns about a Job or
Deployment whose template is not. Every kind of pod template the operator renders
(training Jobs with and without git checkout, code test, credentials and a pvc://
dataset; the dataset hash Job; the serving Deployment) is created with a server-side
dry run, as the pod itself and as its workload. A stripped pod is refused: the proof
that the admission plugin is really enforcing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.operator.builders import meta, spec

from localkube.cluster import Cluster
from modelpipe.inputs import resolve
from modelpipe.manifests import serving_deployment, training_job
from modelpipe.manifests.common import owner_reference
from modelpipe.manifests.pvcdata import HashCheck, build_job

pytestmark = [pytest.mark.cluster]

GIT = {
    "revision": "abc123",
    "git": {"url": "https://git.example/models.git", "credentialsSecret": "git-token"},
    "test": {"command": ["python", "-m", "pytest", "-q"]},
}
TRAINING = {
    "default": spec(),
    "git-code-test": spec(code=GIT),
    "pvc-dataset": spec(dataset={"uri": "pvc://iris-data/iris.csv", "version": "v1"}),
    "champion-resources-account": spec(
        evaluation={"champion": {"metric": "accuracy"}},
        training={
            "serviceAccountName": "default",
            "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}},
        },
    ),
}
SERVING = {
    "template": spec(),
    "template-account-resources": spec(
        serving={
            "template": {
                "serviceAccountName": "default",
                "port": 9000,
                "resources": {"limits": {"memory": "512Mi"}},
            }
        }
    ),
}


def workloads() -> dict[str, dict[str, Any]]:
    """Every kind of workload the operator creates, by a readable name."""
    out: dict[str, dict[str, Any]] = {}
    for name, the_spec in TRAINING.items():
        inputs = resolve(
            spec=the_spec,
            resolved=None,
            retrain_token=None,
            previous=None,
            now="2026-01-01T00:00:00Z",
        )
        champion = "/artifacts/iris/0000aaaa" if the_spec.evaluation.champion else None
        out[f"job-{name}"] = training_job(
            meta=meta(), spec=the_spec, inputs=inputs, champion_dir=champion
        )
    for name, the_spec in SERVING.items():
        out[f"deployment-{name}"] = serving_deployment(
            meta=meta(), spec=the_spec, version="1234abcd", model_dir="/artifacts/iris/1234abcd"
        )
    check = HashCheck(
        namespace="ml", pipeline="iris", claim="iris-data", path="iris.csv",
        image=spec().code.image, slot=7, owner=owner_reference(meta()),
    )  # fmt: skip
    out["hash-job"] = build_job(check)
    return out


WORKLOADS = workloads()


def placed(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The manifest in the test's namespace, without owners (the pipeline does not exist)."""
    metadata = {k: v for k, v in manifest["metadata"].items() if k != "ownerReferences"}
    return {**manifest, "metadata": {**metadata, "namespace": namespace}}


def pod_of(workload: dict[str, Any], namespace: str) -> dict[str, Any]:
    template = workload["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{workload['metadata']['name']}-pod", "namespace": namespace},
        "spec": template["spec"],
    }


def dry_run(cluster: Cluster, manifest: dict[str, Any]) -> tuple[int, str]:
    """``kubectl create --dry-run=server``: admission runs, nothing is stored."""
    done = cluster.kubectl(
        "create",
        "--dry-run=server",
        "-o",
        "name",
        "-f",
        "-",
        input=json.dumps(manifest),
        check=False,
    )
    return done.returncode, done.stderr


@pytest.fixture
def restricted(cluster: Cluster, namespace: str) -> str:
    cluster.kubectl(
        "label", "namespace", namespace, "--overwrite",
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    )  # fmt: skip
    return namespace


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_the_operator_s_pods_are_admitted_under_restricted(
    cluster: Cluster, restricted: str, name: str
) -> None:
    workload = placed(WORKLOADS[name], restricted)
    code, errors = dry_run(cluster, pod_of(workload, restricted))
    assert code == 0, errors
    assert "PodSecurity" not in errors
    code, warnings = dry_run(cluster, workload)
    assert code == 0, warnings
    assert "would violate PodSecurity" not in warnings, warnings


def test_a_pod_without_the_security_contexts_is_refused(cluster: Cluster, restricted: str) -> None:
    """The control: the namespace really enforces "restricted"."""
    pod = pod_of(placed(WORKLOADS["job-default"], restricted), restricted)
    stripped = {**pod["spec"], "securityContext": {}}
    stripped["containers"] = [
        {k: v for k, v in c.items() if k != "securityContext"} for c in stripped["containers"]
    ]
    code, errors = dry_run(cluster, {**pod, "spec": stripped})
    assert code != 0 and 'violates PodSecurity "restricted' in errors, errors
