"""The apiserver itself rejects bad specs with messages that say what to fix; and the
operator turns a missing PVC or serving Deployment into a condition instead of failing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents, wait_for

pytestmark = pytest.mark.cluster


def pipeline(**spec_changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(example_documents(data_url="http://127.0.0.1:9")[1])
    document["spec"].update(spec_changes)
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"evaluation": {"thresholds": [{"metric": "accuracy", "min": 0.9, "max": 0.5}]}},
            "threshold min must be less than or equal to max",
        ),
        (
            {"evaluation": {"thresholds": [{"metric": "acuracy", "min": 0.9}]}},
            "threshold metric must be one of",
        ),
        (
            {"evaluation": {"thresholds": [{"metric": "", "min": 0.9}]}},
            "spec.evaluation.thresholds[0].metric",
        ),
        (
            {"evaluation": {"thresholds": [{"metric": "accuracy"}]}},
            "each threshold needs min, max or both",
        ),
        (
            {"serving": {"deploymentName": "web", "template": {}}},
            "set exactly one of serving.deploymentName",
        ),
        ({"serving": {}}, "set exactly one of serving.deploymentName"),
        (
            {"serving": {"template": {"image": "registry.example/custom:1"}}},
            "serving.template.command is required when serving.template.image is set",
        ),
        (
            {"training": {"estimator": {"className": "os.system"}}},
            "estimator.className must be a scikit-learn",
        ),
        (
            {"training": {"estimator": {"className": "sklearn.svm.SVC"}, "testSplit": 1.5}},
            "testSplit",
        ),
    ],
)
def test_invalid_specs_are_rejected_with_clear_messages(
    ns: Namespace, change: dict[str, Any], message: str
) -> None:
    done = ns.apply(pipeline(**change))
    assert done.returncode != 0, "the apiserver accepted an invalid spec"
    assert message in done.stderr, done.stderr


def test_name_too_long_for_job_names(ns: Namespace) -> None:
    document = pipeline()
    document["metadata"]["name"] = "x" * 60
    done = ns.apply(document)
    assert done.returncode != 0 and "at most 54 characters" in done.stderr


def test_missing_pvc_and_missing_deployment_become_conditions(
    ns: Namespace, operator: Operator
) -> None:
    document = pipeline(serving={"deploymentName": "web"})
    assert ns.apply(document).returncode == 0  # no PVC in this namespace

    def ready_reason() -> str | None:
        found = condition(ns.pipeline(), "Ready")
        return found[1] if found else None

    wait_for("PVCNotFound", lambda: ready_reason() == "PVCNotFound", timeout=60)
    assert ns.jobs() == []
    assert any("spec.artifacts.pvc" in m for m in ns.events("PVCNotFound"))
