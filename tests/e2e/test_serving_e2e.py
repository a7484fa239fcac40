"""Serving edits and the operator's own signals on the real cluster: spec.serving changes
reach the Deployment without touching the model, and /metrics and /healthz answer."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.harness import (
    Namespace,
    Operator,
    example_documents,
    predict,
    promoted,
    serving_version,
    settled,
)

from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
SERVE_COMMAND = ["modelpipe-trainer", "serve", "--model-name", "iris"]


def samples(text: str, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    """Samples of one metric whose labels include ``labels``."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]


def value(text: str, name: str, **labels: str) -> float:
    found = samples(text, name, **labels)
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0][1]


def serving_pods_ready(ns: Namespace, count: int) -> bool:
    deployment = ns.get("deployment", "iris") or {}
    status = deployment.get("status", {})
    return bool(
        status.get("readyReplicas") == count
        and status.get("updatedReplicas") == count
        and status.get("replicas") == count
    )


def test_serving_edits_keep_the_model_and_metrics_tell_the_story(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    ns.apply(*example_documents(data_url=data_url))
    first = promoted(ns)
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/shuffled.csv", "version": "s"}}})
    settled(ns, "GateFailed")
    jobs = ns.jobs()

    # Edit replicas, resources and the command: applied, same model, nothing retrains.
    template = {"command": SERVE_COMMAND, "resources": {"limits": {"memory": "2Gi"}}}
    ns.patch("iris", {"spec": {"serving": {"replicas": 2, "template": template}}})
    wait_for(
        "two ready pods of the edited template", lambda: serving_pods_ready(ns, 2), timeout=120
    )
    deployment: dict[str, Any] = ns.get("deployment", "iris") or {}
    serve = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 2
    assert serve["command"] == SERVE_COMMAND
    assert serve["resources"]["limits"]["memory"] == "2Gi"
    assert {"name": "MODEL_VERSION", "value": first} in serve["env"]
    answer = wait_for("both pods to answer", lambda: predict(ns), timeout=30)
    assert answer["model_version"] == first
    assert serving_version(ns.pipeline()) == first and ns.jobs() == jobs
    assert any(first in m for m in ns.events("ServingUpdated"))

    # What the operator counted on the way.
    text = operator.metrics()
    mine = {"namespace": ns.name, "pipeline": "iris"}
    assert value(text, "modelpipe_runs_total", verdict="Passed", **mine) == 1
    assert value(text, "modelpipe_runs_total", verdict="GateFailed", **mine) == 1
    assert value(text, "modelpipe_gate_failures_total", metric="accuracy", **mine) == 1
    assert value(text, "modelpipe_input_to_production_seconds_count", **mine) == 1
    assert 0 < value(text, "modelpipe_input_to_production_seconds_sum", **mine) < 300
    assert value(text, "modelpipe_serving_model_info", model_version=first, **mine) == 1
    assert value(text, "modelpipe_serving_model_metric", metric="accuracy", **mine) >= 0.8
    assert not samples(text, "modelpipe_reconcile_errors_total", namespace=ns.name)
    assert operator.liveness()[0] == 200
