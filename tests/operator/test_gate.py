"""The gate, table-driven: bounds, NaN, missing metrics and metric directions."""

from __future__ import annotations

import math
from typing import Any

import pytest
from modelpipe_contract.result import Significance

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


SIGNIFICANT = {"test": "pairedBootstrap", "alpha": 0.05}


def trainer_said(p_value: float, improvement: float = 0.04) -> Significance:
    return Significance(
        test="pairedBootstrap",
        metric="accuracy",
        improvement=improvement,
        p_value=p_value,
        interval=(improvement - 0.03, improvement + 0.03),
        alpha=0.05,
        resamples=1000,
    )


@pytest.mark.parametrize(
    ("champion_metrics", "result", "passed", "message"),
    [
        ({"accuracy": 0.90}, trainer_said(0.01), True, "p=0.01"),
        ({"accuracy": 0.90}, trainer_said(0.05), False, "p=0.05"),  # p must be below alpha
        ({"accuracy": 0.90}, trainer_said(0.5, 0.0), False, "interval [-0.03, +0.03]"),
        ({"accuracy": 0.90}, None, False, "reported no significance test"),
        ({"accuracy": 0.90}, trainer_said(NAN), False, "reported no significance test"),
        (None, None, True, "no production model yet"),
    ],
)
def test_significance_row_passes_only_below_alpha_and_shows_p_and_interval(
    champion_metrics: dict[str, float] | None,
    result: Significance | None,
    passed: bool,
    message: str,
) -> None:
    spec = evaluation(champion={"metric": "accuracy", "significance": SIGNIFICANT})
    checks = gate.evaluate(
        evaluation=spec,
        metrics={"accuracy": 0.94},
        champion_metrics=champion_metrics,
        significance=result,
    )
    row = checks[-1]
    assert (row.gate, row.passed) == ("significance", passed)
    assert message in row.message
    if result is not None and champion_metrics is not None and not math.isnan(result.p_value):
        assert row.p_value == result.p_value
        assert row.interval == list(result.interval)
    if not passed:
        assert "not significant" in gate.failing_summary(checks) or row.p_value is None


def test_a_gain_that_is_not_significant_fails_the_gate_even_when_the_champion_row_passes() -> None:
    spec = evaluation(champion={"metric": "accuracy", "significance": SIGNIFICANT})
    checks = gate.evaluate(
        evaluation=spec,
        metrics={"accuracy": 0.91},
        champion_metrics={"accuracy": 0.90},
        significance=trainer_said(0.3, 0.01),
    )
    assert [c.gate for c in checks] == ["champion", "significance"]
    assert [c.passed for c in checks] == [True, False]
    assert gate.failing_summary(checks) == (
        "accuracy not significant: p=0.3 (needs p < 0.05 (pairedBootstrap))"
    )


def test_a_champion_expected_but_missing_fails_the_significance_row_too() -> None:
    spec = evaluation(champion={"metric": "accuracy", "significance": SIGNIFICANT})
    checks = gate.evaluate(
        evaluation=spec, metrics={"accuracy": 0.9}, champion_metrics=None, champion_expected=True
    )
    assert [c.passed for c in checks] == [False, False]
