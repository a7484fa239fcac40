"""spec.serving.autoscaling on the real cluster: the operator creates the pipeline's own
HorizontalPodAutoscaler for the Deployment it owns, keeps it to the spec, never sets the
Deployment's replicas while it exists, and deletes it when autoscaling is dropped.

localkube runs no HPA controller, so the test scales the Deployment itself, as the HPA
would, and shows a later serving edit leaving that count alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, example_documents, promoted

from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
REQUESTS = {"resources": {"requests": {"cpu": "100m"}}}
SCALING = {"minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercentage": 60}


def _autoscaler(ns: Namespace) -> dict[str, Any] | None:
    return ns.get("horizontalpodautoscalers.v2.autoscaling", "iris")


def _replicas(ns: Namespace) -> int | None:
    deployment = ns.get("deployment", "iris") or {}
    return (deployment.get("spec") or {}).get("replicas")


def test_autoscaling_owns_an_hpa_leaves_replicas_to_it_and_goes_when_dropped(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    serving = {"template": REQUESTS, "autoscaling": SCALING}
    ns.apply(*example_documents(data_url=data_url, serving=serving))
    version = promoted(ns)
    hpa = wait_for("the pipeline's HorizontalPodAutoscaler", lambda: _autoscaler(ns), timeout=60)
    pipeline = ns.pipeline()
    (owner,) = hpa["metadata"]["ownerReferences"]
    assert owner["uid"] == pipeline["metadata"]["uid"] and owner["controller"] is True
    assert hpa["metadata"]["labels"]["modelpipe.io/pipeline"] == "iris"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "iris",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}

    # The HPA's move (here by hand), then a serving edit: applied, the count stays.
    ns.kubectl("scale", "deployment", "iris", "--replicas=3")
    edited = {**REQUESTS, "resources": {**REQUESTS["resources"], "limits": {"memory": "1Gi"}}}
    ns.patch("iris", {"spec": {"serving": {"template": edited, "autoscaling": {"maxReplicas": 5}}}})

    def edit_applied() -> bool:
        deployment = ns.get("deployment", "iris") or {}
        serve = deployment["spec"]["template"]["spec"]["containers"][0]
        found = _autoscaler(ns) or {}
        return bool(
            serve["resources"].get("limits") == {"memory": "1Gi"}
            and found.get("spec", {}).get("maxReplicas") == 5
        )

    wait_for("the serving edit on the Deployment and the HPA", edit_applied, timeout=60)
    assert _replicas(ns) == 3  # left to the autoscaler
    assert any("HorizontalPodAutoscaler iris" in m for m in ns.events("ServingUpdated"))

    # Dropped: the HPA goes and spec.serving.replicas (1) applies again; the model stays.
    ns.patch("iris", {"spec": {"serving": {"autoscaling": None}}})
    wait_for("the HPA to be deleted", lambda: _autoscaler(ns) is None, timeout=60)
    wait_for("serving.replicas on the Deployment", lambda: _replicas(ns) == 1, timeout=60)
    assert ns.pipeline()["status"]["production"]["modelVersion"] == version
