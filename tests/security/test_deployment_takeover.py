"""Issue 16, finding 2: a tenant must not take over a Deployment (or Service) through the operator.

The attack, as a tenant holding only the ModelPipeline verbs: name a pipeline like
another team's Deployment, with ``serving.template``. The operator used to swallow the
create's AlreadyExists, find the Deployment by name, relabel it, inject MODEL_DIR and
MODEL_VERSION, roll it and report Promoted. Now the Deployment is not the pipeline's
(no controlling ownerReference), so: Ready=False DeploymentConflict, one event, and not
one write. A Deployment named by ``serving.deploymentName`` is written only once whoever
owns it opts in with the annotation ``modelpipe.io/pipeline: <pipeline>``.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    condition,
    example_documents,
    last_verdict,
    settled,
)
from tests.security.conftest import Tenant

from localkube.waiting import wait_for
from modelpipe.api.config import DEFAULT_TRAINER_IMAGE

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
VICTIM = "web-shop"  # another team's Deployment in the tenant's namespace
# Annotations the Deployment controller and kubectl apply write themselves.
_TOOLS = ("deployment.kubernetes.io/", "kubectl.kubernetes.io/")
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def team_deployment(name: str, *, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A Deployment its team owns; it serves a model only once MODEL_DIR points at one."""
    script = 'if [ -z "$MODEL_DIR" ]; then exec sleep 3600; fi; exec modelpipe-trainer serve'
    env = [
        {"name": "MODEL_NAME", "value": "iris"},
        {"name": "PORT", "value": "8080"},
        {"name": "HOME", "value": "/tmp"},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    serve = {
        "name": "serve",
        "image": DEFAULT_TRAINER_IMAGE,
        "command": ["sh", "-c", script],
        "env": env,
        "volumeMounts": [{"name": "artifacts", "mountPath": "/artifacts", "readOnly": True}],
        "securityContext": RESTRICTED,
    }
    claim = {"claimName": "iris-models", "readOnly": True}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"team": "shop"}, "annotations": annotations or {}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "volumes": [{"name": "artifacts", "persistentVolumeClaim": claim}],
                    "containers": [serve],
                },
            },
        },
    }


def untouched(found: dict[str, Any] | None, planted: dict[str, Any]) -> None:
    """Nothing the operator would have written: labels, annotations, spec, generation 1."""
    assert found is not None
    meta = found["metadata"]
    assert meta["generation"] == 1, "the Deployment's spec was changed"
    assert meta.get("labels") == planted["metadata"].get("labels")
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(_TOOLS)
    }
    assert annotations == (planted["metadata"].get("annotations") or {})
    assert not meta.get("ownerReferences")
    env = found["spec"]["template"]["spec"]["containers"][0]["env"]
    assert not {"MODEL_DIR", "MODEL_VERSION"} & {e["name"] for e in env}


def pipeline_as_tenant(
    ns: Namespace, tenant: Tenant, data_url: str, *, name: str, **spec: Any
) -> None:
    """The artifacts claim comes from the admin; the pipeline from the tenant."""
    pvc, pipeline = example_documents(data_url=data_url, name=name, **spec)
    serving = pipeline["spec"]["serving"]
    pipeline["spec"]["serving"] = {k: v for k, v in serving.items() if v is not None}
    assert ns.apply(pvc).returncode == 0
    done = tenant.apply(pipeline)
    assert done.returncode == 0, done.stderr


def passed(ns: Namespace, operator: Operator, name: str) -> dict[str, Any]:
    """The model was judged: from here on the operator would promote it (it did, before)."""

    def check() -> dict[str, Any] | None:
        pipeline = ns.pipeline(name)
        return pipeline if last_verdict(pipeline) not in (None, "Running") else None

    pipeline = wait_for("the model's verdict", check, timeout=240)
    operator.looked_again(ns, name=name)  # a whole pass to act on it; no write meanwhile either
    pipeline = ns.pipeline(name)
    assert last_verdict(pipeline) == "Passed", "the model was promoted into a foreign object"
    return pipeline


@pytest.fixture
def planted(ns: Namespace, tenant: Tenant) -> dict[str, Any]:
    """Another team's Deployment, which the tenant cannot touch themselves."""
    victim = team_deployment(VICTIM)
    assert ns.apply(victim).returncode == 0
    for verb in ("patch", "update", "create", "delete"):
        assert not tenant.can_i(verb, "deployments") and not tenant.can_i(verb, "services")
    return victim


def test_a_pipeline_named_like_a_deployment_does_not_take_it_over(
    ns: Namespace, tenant: Tenant, planted: dict[str, Any], operator: Operator, data_url: str
) -> None:
    pipeline_as_tenant(ns, tenant, data_url, name=VICTIM)
    pipeline = passed(ns, operator, VICTIM)
    assert condition(pipeline, "Ready") == ("False", "DeploymentConflict")
    assert condition(pipeline, "Promoted") == ("False", "DeploymentConflict")
    ready = next(c for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert f"Deployment {VICTIM} already exists and is not owned" in ready["message"]
    assert "production" not in pipeline["status"]
    untouched(ns.get("deployment", VICTIM), planted)
    assert ns.get("service", VICTIM) is None  # nothing is created beside it either
    (event,) = [m for m in _events(ns, VICTIM, "DeploymentConflict")]
    assert "the operator changed nothing" in event
    assert not _events(ns, VICTIM, "Promoted")


def test_a_foreign_service_of_the_pipeline_s_name_blocks_serving(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str
) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "iris", "labels": {"team": "shop"}},
        "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    assert ns.apply(service).returncode == 0
    planted = ns.get("service", "iris")
    pipeline_as_tenant(ns, tenant, data_url, name="iris")
    pipeline = passed(ns, operator, "iris")
    assert condition(pipeline, "Ready") == ("False", "DeploymentConflict")
    found = ns.get("service", "iris")
    assert planted is not None and found is not None
    assert found["metadata"]["resourceVersion"] == planted["metadata"]["resourceVersion"]
    assert ns.get("deployment", "iris") is None


def test_a_named_deployment_is_served_only_once_it_opts_in(
    ns: Namespace, tenant: Tenant, planted: dict[str, Any], operator: Operator, data_url: str
) -> None:
    serving = {"deploymentName": VICTIM, "template": None}
    pipeline_as_tenant(ns, tenant, data_url, name="iris", serving=serving)
    pipeline = passed(ns, operator, "iris")
    assert condition(pipeline, "Ready") == ("False", "DeploymentConflict")
    ready = next(c for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert "annotate it modelpipe.io/pipeline=iris" in ready["message"]
    untouched(ns.get("deployment", VICTIM), planted)
    # The team that owns the Deployment opts in: now the model is rolled into it.
    ns.kubectl("annotate", "deployment", VICTIM, "modelpipe.io/pipeline=iris")
    pipeline = settled(ns, "Promoted", timeout=180)
    assert condition(pipeline, "Ready") == ("True", "Serving")
    found = ns.get("deployment", VICTIM)
    assert found is not None
    (serve,) = found["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in serve["env"]}
    assert env["MODEL_VERSION"] == pipeline["status"]["production"]["modelVersion"]


def _events(ns: Namespace, pipeline: str, reason: str) -> list[str]:
    return [
        e["message"]
        for e in ns.items("events")
        if e.get("reason") == reason and e["involvedObject"]["name"] == pipeline
    ]
