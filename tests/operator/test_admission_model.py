"""The operator's own parsing refuses what admission refuses (a pipeline stored before a
rule existed gets an InvalidSpec condition, never a crash): table-driven, no cluster."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from tests.operator.builders import spec_dict

from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.api.v1alpha1.params import MAX_PARAMS_BYTES, params_problem


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


STEPS = [{"weight": 20, "pauseSeconds": 30}, {"weight": 60}]
SHADOW = {"type": "Shadow", "shadow": {"minAgreement": 0.9}}
REGRESSION = {"task": "regression", "estimator": {"className": "sklearn.linear_model.Ridge"}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"training": REGRESSION}, "evaluation metric accuracy does not fit training.task"),
        (
            {"evaluation": {"thresholds": [{"metric": "rmse", "max": 1}]}},
            "evaluation metric rmse does not fit training.task classification",
        ),
        ({"evaluation": {"champion": {"metric": "r2"}}}, "evaluation metric r2 does not fit"),
        (
            {
                "training": REGRESSION,
                "evaluation": {
                    "thresholds": [],
                    "champion": {"metric": "r2", "significance": {"test": "mcNemar"}},
                },
            },
            "a regression needs pairedBootstrap",
        ),
        (
            {"evaluation": {"champion": {"metric": "accuracy", "significance": {"alpha": 0.6}}}},
            "less than or equal to 0.5",
        ),
        (
            {"evaluation": {"champion": {"metric": "accuracy", "significance": {"resamples": 10}}}},
            "greater than or equal to 100",
        ),
        ({"evaluation": {"thresholds": [{"metric": "acuracy", "min": 1}]}}, "acuracy"),
        (
            {"serving": {"template": {}, "analysis": {"bakeSeconds": 60}}},
            "serving.analysis needs maxErrorRate, maxLatencyP99Ms or both",
        ),
        (
            {"serving": {"deploymentName": "web", "analysis": {"maxErrorRate": 0.01}}},
            "serving.analysis needs serving.template",
        ),
        (
            {"serving": {"template": {}, "analysis": {"maxErrorRate": 1.5}}},
            "less than or equal to 1",
        ),
        (
            {"serving": {"template": {}, "strategy": {"type": "Canary", "steps": STEPS[::-1]}}},
            "weights must increase from one step to the next",
        ),
        (
            {"serving": {"template": {}, "strategy": {"type": "Canary", "steps": STEPS * 2}}},
            "weights must increase",
        ),
        (
            {"serving": {"template": {}, "strategy": {"type": "Canary", "steps": [{"weight": 0}]}}},
            "greater than or equal to 1",
        ),
        (
            {
                "serving": {
                    "template": {},
                    "strategy": {"type": "Canary", "steps": [{"weight": 101}]},
                }
            },
            "less than or equal to 100",
        ),
        ({"serving": {"template": {}, "strategy": {"type": "Canary"}}}, "steps is required"),
        ({"serving": {"template": {}, "strategy": {"steps": STEPS}}}, "steps is required"),
        (
            {"serving": {"deploymentName": "web", "strategy": {"type": "Canary", "steps": STEPS}}},
            "serving.strategy Canary needs serving.template and no serving.autoscaling",
        ),
        ({"serving": {"template": {}, "strategy": {"type": "Shadow"}}}, "shadow is required"),
        (
            {"serving": {"template": {}, "strategy": {"shadow": {"minAgreement": 0.9}}}},
            "shadow is required with type Shadow",
        ),
        (
            {"serving": {"template": {}, "strategy": {**SHADOW, "steps": STEPS}}},
            "steps is required with type Canary",
        ),
        (
            {"serving": {"template": {}, "strategy": {"type": "Shadow", "shadow": {}}}},
            "minAgreement",
        ),
        (
            {
                "serving": {
                    "template": {},
                    "strategy": {"type": "Shadow", "shadow": {"minAgreement": 1.5}},
                }
            },
            "less than or equal to 1",
        ),
        (
            {"serving": {"deploymentName": "web", "strategy": SHADOW}},
            "serving.strategy Shadow needs serving.template",
        ),
        (
            {"serving": {"template": {}, "replicas": 0, "strategy": SHADOW}},
            "serving.replicas of at least 1",
        ),
        ({"dataset": {"uri": "pvc://", "version": "v1"}}, "pvc://"),
        ({"dataset": {"uri": "pvc://claim/../x", "version": "v1"}}, "'..'"),
        (
            {
                "training": {
                    "estimator": {"className": "sklearn.svm.SVC", "params": {"a": nested(500)}}
                }
            },
            "more than 3 levels deep",
        ),
        (
            {
                "training": {
                    "estimator": {
                        "className": "sklearn.svm.SVC",
                        "params": {f"p{i}": "x" * 1000 for i in range(40)},
                    }
                }
            },
            f"at most {MAX_PARAMS_BYTES}",
        ),
        (
            {"training": {"estimator": {"className": "xgboost.XGBRFClassifier"}}},
            "or one of xgboost.XGBClassifier, xgboost.XGBRegressor, lightgbm.LGBMClassifier",
        ),
        ({"training": {"estimator": {"className": "os.system"}}}, "a scikit-learn class path"),
    ],
)
def test_the_operator_refuses_what_admission_refuses(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace(".", r"\.")):
        ModelPipelineSpec.model_validate(spec_dict(**change))


def test_shadow_with_one_replica_is_accepted() -> None:
    """One production pod copies to one shadow pod (docs/operator.md, "Shadow")."""
    parsed = ModelPipelineSpec.model_validate(
        spec_dict(serving={"template": {}, "replicas": 1, "strategy": SHADOW})
    )
    trial = parsed.serving.strategy.shadow
    assert parsed.serving.strategy.shadowing and trial and trial.duration_seconds == 300


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"max_iter": 500, "C": 0.5, "fit_intercept": True, "solver": "lbfgs"},
        {"hidden_layer_sizes": [100, 50], "class_weight": {"0": 1, "1": 3}},
        {"deep": nested(3)},
    ],
)
def test_ordinary_params_fit_the_bounds(params: dict[str, Any]) -> None:
    assert params_problem(params) is None


def test_regression_metrics_on_a_regression_pipeline_are_accepted() -> None:
    parsed = ModelPipelineSpec.model_validate(
        spec_dict(
            training=REGRESSION,
            evaluation={"thresholds": [{"metric": "rmse", "max": 1}], "champion": {"metric": "r2"}},
        )
    )
    assert parsed.training.task == "regression"


@pytest.mark.parametrize(
    "class_name",
    ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier", "sklearn.ensemble.RandomForestClassifier"],
)
def test_accepted_estimator_families(class_name: str) -> None:
    parsed = ModelPipelineSpec.model_validate(
        spec_dict(training={"estimator": {"className": class_name}})
    )
    assert parsed.training.estimator.class_name == class_name
