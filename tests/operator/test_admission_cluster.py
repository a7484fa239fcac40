"""The apiserver itself rejects bad specs with messages that say what to fix; and the
operator turns a missing PVC or serving Deployment into a condition instead of failing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents

from localkube.waiting import wait_for

pytestmark = pytest.mark.cluster


EXAMPLE_SPEC = example_documents(data_url="http://127.0.0.1:9")[1]["spec"]
TRAINING, DATASET = EXAMPLE_SPEC["training"], EXAMPLE_SPEC["dataset"]
ESTIMATOR = TRAINING["estimator"]
BIG_PARAMS = {f"p{i}": "x" * 1000 for i in range(40)}
MANY_VALUES = {
    **DATASET["schema"],
    "features": [
        {"name": f"f{i}", "kind": "categorical", "allowedValues": [str(v) for v in range(200)]}
        for i in range(6)
    ],
}


CPU_TARGET = {"maxReplicas": 3, "targetCPUUtilizationPercentage": 70}
SCALED = {
    "template": {"resources": {"requests": {"cpu": "100m"}}},
    "autoscaling": CPU_TARGET,
}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


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
            'supported values: "accuracy"',
        ),
        # 11.6: a metric the task does not report would cost a run that can never pass.
        (
            {"training": {"task": "regression", "estimator": {"className": "sklearn.svm.SVR"}}},
            "an evaluation metric does not fit training.task regression, which reports mae, r2",
        ),
        (
            {
                "training": {"task": "regression", "estimator": {"className": "sklearn.svm.SVR"}},
                "evaluation": {"champion": {"metric": "r2", "significance": {"test": "mcNemar"}}},
            },
            "significance test mcNemar compares right and wrong answers; a regression needs "
            "pairedBootstrap",
        ),
        (
            {"evaluation": {"champion": {"metric": "accuracy", "significance": {"alpha": 0}}}},
            "alpha",
        ),
        (
            {"evaluation": {"thresholds": [{"metric": "rmse", "max": 0.5}]}},
            "does not fit training.task classification, which reports accuracy",
        ),
        (
            {"evaluation": {"champion": {"metric": "mae"}}},
            "does not fit training.task classification",
        ),
        (
            {"evaluation": {"champion": {"metric": "precision"}}},
            'spec.evaluation.champion.metric: Unsupported value: "precision"',
        ),
        # 16: specs the Job or Deployment create would refuse, so the pipeline retried forever.
        (
            {"training": {**TRAINING, "resources": {"requests": {"cpu": "-1"}}}},
            "every value must be a non-negative Kubernetes quantity",
        ),
        (
            {"serving": {"template": {"resources": {"limits": {"memory": "lots"}}}}},
            "spec.serving.template.resources.limits: Invalid value: resources.limits: every value",
        ),
        (
            {"training": {**TRAINING, "resources": {"limits": {"nvidia.com/gpu": "0.5"}}}},
            "extended resources (nvidia.com/gpu) take whole numbers",
        ),
        (
            {"dataset": {**DATASET, "uri": "pvc://"}},
            "dataset.uri pvc://<claim>/<path> needs a claim name and a relative path",
        ),
        (
            {"dataset": {**DATASET, "uri": "pvc://claim/../../etc/passwd"}},
            "without '..'",
        ),
        (
            {"training": {**TRAINING, "estimator": {**ESTIMATOR, "params": {"a": nested(500)}}}},
            "params: values nest lists and maps at most 3 levels deep",
        ),
        (
            {"training": {**TRAINING, "estimator": {**ESTIMATOR, "params": BIG_PARAMS}}},
            "spec.training.estimator.params is larger than 32768 bytes",
        ),
        (
            {"dataset": {**DATASET, "schema": MANY_VALUES}},
            "may list at most 1024 allowedValues in all",
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
            {"serving": {"template": {}, "analysis": {"bakeSeconds": 60}}},
            "serving.analysis needs maxErrorRate, maxLatencyP99Ms or both",
        ),
        (
            {"serving": {"deploymentName": "web", "analysis": {"maxErrorRate": 0.01}}},
            "serving.analysis needs serving.template: the operator reads the /metrics",
        ),
        (
            {"serving": {**SCALED, "autoscaling": {"minReplicas": 5, **CPU_TARGET}}},
            "minReplicas must be less than or equal to maxReplicas",
        ),
        (
            {"serving": {**SCALED, "autoscaling": {"maxReplicas": 3}}},
            "serving.autoscaling needs targetCPUUtilizationPercentage",
        ),
        (
            {"serving": {"template": {}, "autoscaling": CPU_TARGET}},
            "set serving.template.resources.requests.cpu",
        ),
        (
            {"serving": {"deploymentName": "web", "autoscaling": CPU_TARGET}},
            "serving.autoscaling needs serving.template",
        ),
        (
            {"serving": {**SCALED, "replicas": 3}},
            "remove serving.replicas",
        ),
        (
            {"serving": {"template": {"image": "registry.example/custom:1"}}},
            "serving.template.command is required when serving.template.image is set",
        ),
        (
            {"training": {"estimator": {"className": "os.system"}}},
            "estimator.className must be a scikit-learn",
        ),
        # 15: beyond scikit-learn, only the boosting estimators the contract names.
        (
            {"training": {"estimator": {"className": "xgboost.XGBRFClassifier"}}},
            "or one of xgboost.XGBClassifier, xgboost.XGBRegressor, lightgbm.LGBMClassifier",
        ),
        (
            {"training": {"estimator": {"className": "lightgbm.sklearn.LGBMClassifier"}}},
            "estimator.className must be a scikit-learn class path",
        ),
        (
            {"training": {"estimator": {"className": "sklearn.svm.SVC"}, "testSplit": 1.5}},
            "testSplit",
        ),
        (  # a tenant may not pick a Kueue priority the platform did not allow (none here)
            {
                "training": {
                    "estimator": {"className": "sklearn.svm.SVC"},
                    "queueName": "team",
                    "workloadPriorityClassName": "high",
                }
            },
            "spec.training.workloadPriorityClassName is not one the platform allows",
        ),
    ],
)
def test_invalid_specs_are_rejected_with_clear_messages(
    ns: Namespace, change: dict[str, Any], message: str
) -> None:
    # JSON, not YAML: PyYAML cannot write 500 nested lists.
    done = ns.kubectl("apply", "-f", "-", input=json.dumps(pipeline(**change)), check=False)
    assert done.returncode != 0, "the apiserver accepted an invalid spec"
    assert message in done.stderr, done.stderr


@pytest.mark.parametrize(
    "class_name", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier", "sklearn.svm.SVC"]
)
def test_accepted_estimator_families_are_admitted(ns: Namespace, class_name: str) -> None:
    document = pipeline(training={**TRAINING, "estimator": {"className": class_name}})
    dry_run = ("apply", "--dry-run=server", "-f", "-")
    done = ns.kubectl(*dry_run, input=json.dumps(document), check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "change",
    [
        {
            "serving": {
                **SCALED,
                "autoscaling": {"maxReplicas": 2, "targetCPUUtilizationPercentage": 50},
            }
        },
        {"training": {**TRAINING, "tolerations": [{"key": "spot", "value": "true"}]}},
        {"training": {**TRAINING, "nodeAffinity": [{"key": "disktype", "values": ["ssd"]}]}},
    ],
)
def test_specs_that_leave_defaults_out_are_accepted(ns: Namespace, change: dict[str, Any]) -> None:
    """The CRD stores no defaults (the operator applies them): rules must not read absent fields."""
    document = pipeline(**change)
    document["spec"]["serving"].pop("replicas", None)
    done = ns.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=json.dumps(document), check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["iris.v2", "2iris", "-iris"])
def test_names_that_make_invalid_service_names_are_refused(ns: Namespace, name: str) -> None:
    document = pipeline()
    document["metadata"]["name"] = name
    done = ns.apply(document)
    assert done.returncode != 0, f"{name} was accepted"
    assert "DNS-1035" in done.stderr or "metadata.name" in done.stderr, done.stderr


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
