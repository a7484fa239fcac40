"""Metrics: the same numbers scikit-learn's own functions give, and no NaN gets through."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from modelpipe_contract.result import CLASSIFICATION_METRICS, REGRESSION_METRICS
from modelpipe_contract.runconfig import Task
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from modelpipe_trainer.scoring import MetricError, score


def test_classification_matches_sklearn() -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    model = make_pipeline(LogisticRegression(max_iter=500)).fit(x[::2], y[::2])
    features, target = x[1::2], y[1::2]
    got = score(model, features=features, target=target, task=Task.CLASSIFICATION)
    predicted, proba = model.predict(features), model.predict_proba(features)
    assert set(got) == set(CLASSIFICATION_METRICS)
    assert got["accuracy"] == skm.accuracy_score(target, predicted)
    assert got["f1_macro"] == pytest.approx(skm.f1_score(target, predicted, average="macro"))
    assert got["precision_macro"] == pytest.approx(
        skm.precision_score(target, predicted, average="macro")
    )
    assert got["recall_macro"] == pytest.approx(
        skm.recall_score(target, predicted, average="macro")
    )
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(target, proba, multi_class="ovr"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(target, proba))


def test_binary_roc_auc_uses_the_positive_class() -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    keep = y > 0
    x, y = x[keep], y[keep].map({1: "no", 2: "yes"})
    model = make_pipeline(LogisticRegression(max_iter=500)).fit(x, y)
    got = score(model, features=x, target=y, task=Task.CLASSIFICATION)
    expected = skm.roc_auc_score(y == "yes", model.predict_proba(x)[:, 1])
    assert got["roc_auc"] == pytest.approx(expected)


def test_without_predict_proba_roc_auc_comes_from_decision_scores() -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    model = make_pipeline(LinearSVC(random_state=0)).fit(x, y)
    got = score(model, features=x, target=y, task=Task.CLASSIFICATION)
    assert "log_loss" not in got
    assert 0.5 < got["roc_auc"] <= 1.0


def test_regression_matches_sklearn() -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    model = make_pipeline(Ridge()).fit(x, y)
    got = score(model, features=x, target=y, task=Task.REGRESSION)
    predicted = model.predict(x)
    assert set(got) == set(REGRESSION_METRICS)
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, predicted)))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, predicted))
    assert got["r2"] == pytest.approx(skm.r2_score(y, predicted))


class _NaNRegressor(RegressorMixin, BaseEstimator):
    def fit(self, x: object, y: object) -> _NaNRegressor:
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.full(len(x), np.nan)


def test_nan_predictions_are_an_error_not_a_number() -> None:
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    model = make_pipeline(_NaNRegressor()).fit(x, [1.0, 2.0, 3.0])
    with pytest.raises(MetricError):
        score(model, features=x, target=pd.Series([1.0, 2.0, 3.0]), task=Task.REGRESSION)


def test_single_class_holdout_gives_nan_roc_auc_which_is_refused() -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    model = make_pipeline(LogisticRegression(max_iter=500)).fit(x, y)
    with pytest.raises(MetricError, match="roc_auc came out NaN"):
        score(model, features=x[y == 0], target=y[y == 0], task=Task.CLASSIFICATION)
