"""spec.serving.autoscaling as a tenant: another team's HorizontalPodAutoscaler that happens
to carry the pipeline's name is never adopted, patched or deleted through the operator.

The tenant holds only the ModelPipeline verbs (no rights on horizontalpodautoscalers). Asking
for autoscaling while a foreign HPA of that name exists is ``DeploymentConflict`` with no
write; dropping autoscaling lets the model serve and still leaves that HPA alone (the
operator deletes only an autoscaler it controls, by the uid it saw).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, settled
from tests.security.conftest import Tenant
from tests.security.test_deployment_takeover import passed, pipeline_as_tenant

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
HPA = "horizontalpodautoscalers.v2.autoscaling"
SERVING = {
    "template": {"resources": {"requests": {"cpu": "100m"}}},
    "autoscaling": {"minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 60},
}


def foreign_autoscaler(name: str) -> dict[str, Any]:
    """Another team's HPA, scaling their own Deployment."""
    target = {"type": "Utilization", "averageUtilization": 80}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": {"team": "shop"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-shop"},
            "minReplicas": 2,
            "maxReplicas": 9,
            "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": target}}],
        },
    }


def unchanged(ns: Namespace, planted: dict[str, Any]) -> None:
    found = ns.get(HPA, planted["metadata"]["name"])
    assert found is not None, "the foreign HorizontalPodAutoscaler was deleted"
    assert found["metadata"]["resourceVersion"] == planted["metadata"]["resourceVersion"]
    assert found["metadata"]["uid"] == planted["metadata"]["uid"]
    assert not found["metadata"].get("ownerReferences")
    assert found["spec"] == planted["spec"]


def test_a_foreign_autoscaler_of_the_pipeline_s_name_is_never_written(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str
) -> None:
    for verb in ("get", "patch", "update", "delete"):
        assert not tenant.can_i(verb, "horizontalpodautoscalers.autoscaling")
    assert ns.apply(foreign_autoscaler("iris")).returncode == 0
    planted = ns.get(HPA, "iris")
    assert planted is not None

    pipeline_as_tenant(ns, tenant, data_url, name="iris", serving=SERVING)
    pipeline = passed(ns, operator, "iris")
    assert condition(pipeline, "Ready") == ("False", "DeploymentConflict")
    ready = next(c for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert "HorizontalPodAutoscaler iris already exists and is not owned" in ready["message"]
    assert "production" not in pipeline["status"]
    assert ns.get("deployment", "iris") is None  # serving is held back whole, not in part
    unchanged(ns, planted)

    # Without autoscaling the model serves; the foreign HPA is still not the pipeline's to
    # delete (the operator drops only an autoscaler it controls).
    patch = json.dumps({"spec": {"serving": {"autoscaling": None}}})
    done = tenant.kubectl("patch", "modelpipeline", "iris", "--type=merge", "-p", patch)
    assert done.returncode == 0, done.stderr
    pipeline = settled(ns, "Promoted", timeout=180)
    assert condition(pipeline, "Ready") == ("True", "Serving")
    unchanged(ns, planted)
