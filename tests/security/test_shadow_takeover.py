"""spec.serving.strategy Shadow as a tenant: another team's Deployment and Service that
happen to be named ``<pipeline>-shadow`` are never written, adopted or sent a copy of a
request through the operator.

The tenant holds only the ModelPipeline verbs (no rights on Deployments or Services). A
Service named ``iris-shadow`` could just as well be the serving Service of someone's
pipeline named ``iris-shadow``: if production mirrored to it, that pipeline's pods would
read iris's traffic. So production's pods are rendered without the mirror while the name
is foreign, the first model rolls out as usual, and the second, which would run in shadow,
is blocked with ``DeploymentConflict``; both planted objects stay byte for byte as they were.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, promoted
from tests.security.conftest import Tenant
from tests.security.test_canary_takeover import foreign_deployment
from tests.security.test_deployment_takeover import pipeline_as_tenant

from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]
SERVING = {"replicas": 1, "strategy": {"type": "Shadow", "shadow": {"minAgreement": 0.9}}}


def foreign_service(name: str) -> dict[str, Any]:
    """Another team's Service (it selects that team's pods)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"team": "shop"}},
        "spec": {"selector": {"app": "web-shop"}, "ports": [{"port": 8080}]},
    }


def test_a_foreign_deployment_and_service_named_like_the_shadow_are_never_used(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str
) -> None:
    for verb in ("get", "patch", "update", "delete"):
        assert not tenant.can_i(verb, "deployments.apps")
        assert not tenant.can_i(verb, "services")
    for planted in (foreign_deployment("iris-shadow"), foreign_service("iris-shadow")):
        assert ns.apply(planted).returncode == 0
    deployment, service = ns.get("deployment", "iris-shadow"), ns.get("service", "iris-shadow")
    assert deployment is not None and service is not None

    pipeline_as_tenant(ns, tenant, data_url, name="iris", serving=SERVING)
    first = promoted(ns, timeout=600)  # no production yet: the first model rolls at once
    production = ns.get("deployment", "iris")
    assert production is not None
    env = production["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "MODELPIPE_SHADOW_TARGET" not in {e["name"] for e in env}  # no copy to theirs
    done = tenant.kubectl("annotate", "modelpipeline", "iris", "modelpipe.io/retrain=1")
    assert done.returncode == 0, done.stderr

    def conflict() -> dict[str, Any] | None:
        pipeline = ns.pipeline("iris")
        found = condition(pipeline, "Ready") == ("False", "DeploymentConflict")
        return pipeline if found else None

    pipeline = wait_for("Ready=False DeploymentConflict", conflict, timeout=600)
    ready = next(c for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert "iris-shadow exists and is not this pipeline's" in ready["message"]
    assert pipeline["status"]["production"]["modelVersion"] == first
    assert not pipeline["status"].get("shadow")
    for kind, planted in (("deployment", deployment), ("service", service)):
        found = ns.get(kind, "iris-shadow")
        assert found is not None, f"the foreign {kind} was deleted"
        assert found["metadata"]["resourceVersion"] == planted["metadata"]["resourceVersion"]
        assert not found["metadata"].get("ownerReferences")
        assert found["spec"] == planted["spec"]
