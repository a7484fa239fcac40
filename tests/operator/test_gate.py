"""The gate, table-driven: bounds, NaN, missing metrics and metric directions."""

from __future__ import annotations

import math
from typing import Any

import pytest

from modelpipe import gate
from modelpipe.api.v1alpha1.spec import EvaluationSpec

NAN = math.nan


def evaluation(**kwargs: Any) -> EvaluationSpec:
    return EvaluationSpec.model_validate(kwargs)


@pytest.mark.parametrize(
    ("thresholds", "metrics", "expected"),
    [
        ([{"metric": "accuracy", "min": 0.9}], {"accuracy": 0.95}, [True]),
        ([{"metric": "accuracy", "min": 0.9}], {"accuracy": 0.9}, [True]),
        ([{"metric": "accuracy", "min": 0.9}], {"accuracy": 0.89}, [False]),
        ([{"metric": "accuracy", "min": 0.9}], {"accuracy": NAN}, [False]),
        ([{"metric": "accuracy", "min": 0.9}], {}, [False]),
        ([{"metric": "rmse", "max": 2.0}], {"rmse": 1.5}, [True]),
        ([{"metric": "rmse", "max": 2.0}], {"rmse": 2.5}, [False]),
        ([{"metric": "r2", "min": 0.5, "max": 0.99}], {"r2": 0.999}, [False]),
        (
            [{"metric": "accuracy", "min": 0.9}, {"metric": "f1_macro", "min": 0.8}],
            {"accuracy": 0.95, "f1_macro": 0.7},
            [True, False],
        ),
    ],
)
def test_thresholds(
    thresholds: list[dict[str, Any]], metrics: dict[str, float], expected: list[bool]
) -> None:
    checks = gate.evaluate(
        evaluation=evaluation(thresholds=thresholds), metrics=metrics, champion_metrics=None
    )
    assert [c.passed for c in checks] == expected
    assert gate.passed(checks) is all(expected)


@pytest.mark.parametrize(
    ("metric", "improvement", "candidate", "champion", "expected"),
    [
        ("accuracy", 0.0, 0.90, 0.90, True),  # matching the champion is enough
        ("accuracy", 0.0, 0.89, 0.90, False),
        ("accuracy", 0.02, 0.91, 0.90, False),
        ("accuracy", 0.02, 0.93, 0.90, True),
        ("log_loss", 0.0, 0.30, 0.20, False),  # lower is better
        ("log_loss", 0.05, 0.14, 0.20, True),
        ("rmse", 0.0, 1.0, 1.0, True),
        ("accuracy", 0.0, NAN, 0.90, False),
        ("accuracy", 0.0, 0.95, NAN, False),
    ],
)
def test_champion_uses_metric_direction(
    metric: str, improvement: float, candidate: float, champion: float, expected: bool
) -> None:
    spec = evaluation(champion={"metric": metric, "minImprovement": improvement})
    checks = gate.evaluate(
        evaluation=spec, metrics={metric: candidate}, champion_metrics={metric: champion}
    )
    assert [c.passed for c in checks] == [expected]


def test_first_model_passes_the_champion_check() -> None:
    spec = evaluation(champion={"metric": "accuracy"})
    checks = gate.evaluate(evaluation=spec, metrics={"accuracy": 0.5}, champion_metrics=None)
    assert checks[0].passed and checks[0].message == "no production model yet"


def test_missing_champion_metrics_fail_when_a_champion_existed() -> None:
    spec = evaluation(champion={"metric": "accuracy"})
    checks = gate.evaluate(
        evaluation=spec, metrics={"accuracy": 0.99}, champion_metrics=None, champion_expected=True
    )
    assert not checks[0].passed


def test_failing_summary_names_values_and_bounds() -> None:
    spec = evaluation(thresholds=[{"metric": "accuracy", "min": 0.9}, {"metric": "rmse", "max": 1}])
    checks = gate.evaluate(evaluation=spec, metrics={"accuracy": 0.61}, champion_metrics=None)
    summary = gate.failing_summary(checks)
    assert summary == "accuracy=0.61 (needs >= 0.9); rmse=missing (needs <= 1)"
