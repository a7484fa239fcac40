"""The significance test in the champion gate: known answers, seeded reproducibility, and
what cannot be computed is an error, never a pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from modelpipe_contract.runconfig import RunConfig, SignificanceConfig, SignificanceTest

from modelpipe_trainer.scoring import MetricError, Outputs, measure
from modelpipe_trainer.significance import compare, mcnemar, per_draw

RNG = np.random.default_rng(3)
TRUTH = RNG.integers(0, 2, size=200)


def classifier(correct: np.ndarray, truth: np.ndarray = TRUTH) -> Outputs:
    """Predictions right exactly where ``correct`` says."""
    predicted = np.where(correct, truth, 1 - truth)
    proba = np.stack([predicted == 0, predicted == 1], axis=1).astype(float) * 0.8 + 0.1
    return Outputs(truth=truth, predicted=predicted, proba=proba, classes=(0, 1))


def bootstrap(metric: str = "accuracy", **extra: Any) -> SignificanceConfig:
    # The fewest draws allowed: metrics without a per-row form take one sklearn call each.
    return SignificanceConfig.model_validate({"metric": metric, "resamples": 100, **extra})


MCNEMAR = SignificanceConfig(test=SignificanceTest.MCNEMAR, metric="accuracy")
RIGHT_70 = RNG.random(200) < 0.7


@pytest.mark.parametrize("config", [bootstrap(), bootstrap("log_loss"), MCNEMAR])
def test_a_challenger_identical_to_the_champion_is_never_significant(
    config: SignificanceConfig,
) -> None:
    same = classifier(RIGHT_70)
    got = compare(candidate=same, champion=same, config=config, seed=0)
    assert got.p_value == 1.0
    assert got.improvement == 0.0
    assert got.interval == (0.0, 0.0)


@pytest.mark.parametrize(
    "config", [bootstrap(), bootstrap("f1_macro"), bootstrap("log_loss"), MCNEMAR]
)
def test_a_clearly_better_challenger_is_significant(config: SignificanceConfig) -> None:
    better = classifier(np.ones(200, dtype=bool))
    got = compare(candidate=better, champion=classifier(RIGHT_70), config=config, seed=0)
    assert got.p_value < 0.01
    assert got.improvement > 0.2
    assert 0 < got.interval[0] <= got.improvement <= got.interval[1]


def test_a_worse_challenger_is_not_significant_and_its_interval_is_negative() -> None:
    worse = classifier(RIGHT_70 & (RNG.random(200) < 0.8))
    got = compare(candidate=worse, champion=classifier(RIGHT_70), config=bootstrap(), seed=0)
    assert got.p_value > 0.9
    assert got.interval[1] < 0


@pytest.mark.parametrize(
    ("wins", "losses", "p_value"),
    [
        (10, 0, 0.5**10),  # P(X >= 10), X ~ Bin(10, 1/2)
        (5, 5, 638 / 1024),  # P(X >= 5) = (252 + 210 + 120 + 45 + 10 + 1) / 1024
        (0, 3, 1.0),
        (0, 0, 1.0),  # no discordant row: no evidence
    ],
)
def test_mcnemar_is_the_exact_binomial_test_on_discordant_rows(
    wins: int, losses: int, p_value: float
) -> None:
    both = 20
    truth = np.zeros(both + wins + losses, dtype=int)
    ours = np.r_[np.ones(both + wins), np.zeros(losses)].astype(bool)
    theirs = np.r_[np.ones(both), np.zeros(wins), np.ones(losses)].astype(bool)
    got = mcnemar(candidate=classifier(ours, truth), champion=classifier(theirs, truth), alpha=0.05)
    assert got.p_value == pytest.approx(p_value)
    assert got.improvement == pytest.approx((wins - losses) / len(truth))


def test_the_bootstrap_is_reproducible_from_the_seed() -> None:
    candidate = classifier(RIGHT_70 ^ (RNG.random(200) < 0.15))  # wins some, loses some
    champion = classifier(RIGHT_70)
    runs = [
        compare(candidate=candidate, champion=champion, config=bootstrap(), seed=s)
        for s in (7, 7, 8)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_min_improvement_raises_the_bar() -> None:
    candidate = classifier(RIGHT_70 | (RNG.random(200) < 0.3))
    champion = classifier(RIGHT_70)
    loose = compare(candidate=candidate, champion=champion, config=bootstrap(), seed=0)
    strict = compare(
        candidate=candidate, champion=champion, config=bootstrap(minImprovement=0.5), seed=0
    )
    assert loose.p_value < 0.05 < strict.p_value == 1.0


def test_lower_is_better_metrics_count_a_smaller_error_as_the_gain() -> None:
    truth = np.linspace(0, 10, 100)
    close = Outputs(truth=truth, predicted=truth + 0.1)
    far = Outputs(truth=truth, predicted=truth + 2.0)
    got = compare(candidate=close, champion=far, config=bootstrap("rmse"), seed=0)
    assert got.improvement == pytest.approx(1.9)
    assert got.p_value < 0.01


def test_a_metric_undefined_on_most_draws_is_an_error_not_a_pass() -> None:
    truth = np.array([0] * 199 + [1])  # a third of the draws hold one class: no ROC AUC
    model = classifier(np.ones(200, dtype=bool), truth)
    with pytest.raises(MetricError, match="undefined on"):
        compare(candidate=model, champion=model, config=bootstrap("roc_auc"), seed=0)


def test_mcnemar_on_a_regression_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a regression needs pairedBootstrap"):
        RunConfig.model_validate(
            {
                "modelVersion": "v1",
                "task": "regression",
                "dataset": {"uri": "x.csv", "version": "1"},
                "schema": {"target": "y", "features": [{"name": "x"}]},
                "estimator": {"className": "sklearn.linear_model.Ridge"},
                "artifactsDir": str(tmp_path),
                "significance": {"test": "mcNemar", "metric": "rmse"},
            }
        )


@pytest.mark.parametrize("metric", ["accuracy", "log_loss"])
def test_per_row_metrics_on_draws_equal_sklearn_on_the_same_rows(metric: str) -> None:
    model = classifier(RIGHT_70)
    draws = np.random.default_rng(0).integers(0, 200, size=(5, 200))
    expected = [measure(model.take(rows), [metric])[metric] for rows in draws]
    assert per_draw(model, metric, draws) == pytest.approx(expected)


@pytest.mark.parametrize("metric", ["rmse", "mae", "r2"])
def test_per_row_regression_metrics_equal_sklearn(metric: str) -> None:
    truth = np.linspace(0, 10, 50)
    model = Outputs(truth=truth, predicted=truth + np.random.default_rng(1).normal(size=50))
    draws = np.random.default_rng(0).integers(0, 50, size=(5, 50))
    expected = [measure(model.take(rows), [metric])[metric] for rows in draws]
    assert per_draw(model, metric, draws) == pytest.approx(expected)


def test_a_train_run_reports_the_test_and_writes_it_to_metrics_json(
    run_cli: Any, make_config: Any, iris_csv: Path
) -> None:
    _, first = run_cli("train", make_config(iris_csv, modelVersion="v1"))
    significance = {"test": "pairedBootstrap", "metric": "accuracy", "resamples": 200}
    config = make_config(
        iris_csv, modelVersion="v2", championPath=first["artifactPath"], significance=significance
    )
    code, second = run_cli("train", config)
    assert code == 0, second
    # The same model retrained on the same rows: no gain, and the test says so.
    assert second["significance"]["pValue"] == 1.0
    assert second["significance"]["interval"] == [0.0, 0.0]
    written = json.loads((Path(second["artifactPath"]) / "metrics.json").read_text())
    assert written["significance"] == second["significance"]


@pytest.mark.parametrize(
    "metric", ["f1_macro", "precision_macro", "recall_macro", "balanced_accuracy"]
)
def test_confusion_count_metrics_on_draws_equal_sklearn_also_when_a_draw_lacks_a_class(
    metric: str,
) -> None:
    rng = np.random.default_rng(2)
    truth = np.array(["a", "b", "c"] * 4)  # 12 rows: small draws miss whole classes
    predicted = np.where(rng.random(12) < 0.6, truth, rng.choice(["a", "b", "c"], 12))
    model = Outputs(truth=truth, predicted=predicted, classes=("a", "b", "c"))
    draws = np.random.default_rng(0).integers(0, 12, size=(40, 12))
    expected = [measure(model.take(rows), [metric])[metric] for rows in draws]
    assert per_draw(model, metric, draws) == pytest.approx(expected)
