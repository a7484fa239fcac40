"""spec.serving.strategy Canary as a tenant: another team's Deployment that happens to be
named ``<pipeline>-canary`` is never patched, scaled or adopted through the operator.

The tenant holds only the ModelPipeline verbs (no rights on Deployments). Its first model
rolls out as usual; the second would start a canary in ``iris-canary``, which belongs to
someone else: the pipeline says ``DeploymentConflict``, production keeps serving the first
model on all its pods, and the foreign Deployment is byte for byte what was planted.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, promoted
from tests.security.conftest import Tenant
from tests.security.test_deployment_takeover import pipeline_as_tenant

from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]
SERVING = {"replicas": 2, "strategy": {"type": "Canary", "steps": [{"weight": 50}]}}


def foreign_deployment(name: str) -> dict[str, Any]:
    """Another team's Deployment (no pods: only its object matters here)."""
    labels = {"app": "web-shop"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"team": "shop"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "shop/web:1"}]},
            },
        },
    }


def test_a_foreign_deployment_named_like_the_canary_is_never_written(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str
) -> None:
    for verb in ("get", "patch", "update", "delete"):
        assert not tenant.can_i(verb, "deployments.apps")
    assert ns.apply(foreign_deployment("iris-canary")).returncode == 0
    planted = ns.get("deployment", "iris-canary")
    assert planted is not None

    pipeline_as_tenant(ns, tenant, data_url, name="iris", serving=SERVING)
    first = promoted(ns, timeout=600)  # no production yet: the first model rolls at once
    done = tenant.kubectl("annotate", "modelpipeline", "iris", "modelpipe.io/retrain=1")
    assert done.returncode == 0, done.stderr

    def conflict() -> dict[str, Any] | None:
        pipeline = ns.pipeline("iris")
        found = condition(pipeline, "Ready") == ("False", "DeploymentConflict")
        return pipeline if found else None

    pipeline = wait_for("Ready=False DeploymentConflict", conflict, timeout=600)
    ready = next(c for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert "iris-canary exists and is not this pipeline's" in ready["message"]
    assert pipeline["status"]["production"]["modelVersion"] == first
    assert not pipeline["status"].get("canary")
    found = ns.get("deployment", "iris-canary")
    assert found is not None, "the foreign Deployment was deleted"
    assert found["metadata"]["resourceVersion"] == planted["metadata"]["resourceVersion"]
    assert not found["metadata"].get("ownerReferences")
    assert found["spec"] == planted["spec"]
    production = ns.get("deployment", "iris")
    assert production is not None and production["spec"]["replicas"] == 2
