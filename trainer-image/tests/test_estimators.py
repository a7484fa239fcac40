"""Resolving and constructing the estimator before any data is read."""

from __future__ import annotations

from typing import Any

import pytest
from modelpipe_contract.result import Outcome
from modelpipe_contract.runconfig import EstimatorSpec, Task

from modelpipe_trainer.errors import TrainerError
from modelpipe_trainer.estimators import build_estimator


def _build(class_path: str, task: Task = Task.CLASSIFICATION, **spec: object) -> Any:
    doc = {"className": class_path, **spec}
    return build_estimator(EstimatorSpec.model_validate(doc), task=task, seed=11)


def _rejected(class_path: str, task: Task = Task.CLASSIFICATION, **spec: object) -> str:
    with pytest.raises(TrainerError) as caught:
        _build(class_path, task, **spec)
    assert caught.value.outcome is Outcome.INVALID_CONFIG
    return caught.value.failures[0].message


def test_builds_with_params_and_seed() -> None:
    estimator = _build("sklearn.ensemble.RandomForestClassifier", params={"n_estimators": 5})
    assert estimator.n_estimators == 5
    assert estimator.random_state == 11


def test_explicit_random_state_wins() -> None:
    estimator = _build("sklearn.ensemble.RandomForestClassifier", params={"random_state": 3})
    assert estimator.random_state == 3


@pytest.mark.parametrize(
    ("class_path", "expected"),
    [
        ("sklearn.nonexistent.Model", "there is no module 'sklearn.nonexistent'"),
        ("sklearn.linear_model.LogisticRegresion", "did you mean 'LogisticRegression'"),
        ("os.system", "only classes under sklearn."),
        ("sklearn.LogisticRegression", "module 'sklearn' has no 'LogisticRegression'"),
        ("sklearn.utils.Bunch", "not a scikit-learn estimator"),
        ("sklearn.linear_model.LinearRegression", "not a classifier"),
    ],
)
def test_unknown_estimator(class_path: str, expected: str) -> None:
    assert expected in _rejected(class_path)


def test_prefix_widening_still_requires_an_estimator() -> None:
    message = _rejected("collections.OrderedDict", allowedPrefixes=["sklearn.", "collections."])
    assert "not a scikit-learn estimator" in message


def test_unknown_param_is_named_with_a_suggestion() -> None:
    message = _rejected("sklearn.linear_model.LogisticRegression", params={"max_iters": 10})
    assert "'max_iters' (did you mean 'max_iter'?)" in message


def test_bad_param_value_is_caught_before_fit() -> None:
    message = _rejected("sklearn.linear_model.LogisticRegression", params={"C": -1})
    assert "'C' parameter" in message


def test_regressor_for_regression() -> None:
    _build("sklearn.linear_model.Ridge", Task.REGRESSION)
    assert "not a regressor" in _rejected("sklearn.svm.SVC", Task.REGRESSION)


@pytest.mark.parametrize(
    ("class_path", "task"),
    [
        ("xgboost.XGBClassifier", Task.CLASSIFICATION),
        ("xgboost.XGBRegressor", Task.REGRESSION),
        ("lightgbm.LGBMClassifier", Task.CLASSIFICATION),
        ("lightgbm.LGBMRegressor", Task.REGRESSION),
    ],
)
def test_boosting_estimators_build_with_params_and_seed(class_path: str, task: Task) -> None:
    estimator = _build(class_path, task, params={"n_estimators": 7})
    assert (estimator.n_estimators, estimator.random_state) == (7, 11)


@pytest.mark.parametrize(
    ("class_path", "expected"),
    [
        ("xgboost.XGBRFClassifier", "only classes under sklearn. and xgboost.XGBClassifier"),
        ("xgboost.sklearn.XGBClassifier", "lightgbm.LGBMRegressor may be used"),
        ("lightgbm.LGBMRanker", "only classes under sklearn."),
        ("xgboost.XGBRegressor", "not a classifier"),
    ],
)
def test_boosting_outside_the_named_classes_is_refused(class_path: str, expected: str) -> None:
    assert expected in _rejected(class_path)


@pytest.mark.parametrize("class_path", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier"])
def test_boosting_param_typo_is_refused_though_kwargs_would_take_it(class_path: str) -> None:
    message = _rejected(class_path, params={"max_dept": 3, "n_estimator": 5})
    assert "'max_dept' (did you mean 'max_depth'?)" in message
    assert "'n_estimator' (did you mean 'n_estimators'?)" in message


def test_boosting_native_params_pass() -> None:
    """Native names and aliases are not typos: LightGBM reads them from **kwargs."""
    params = {"lambda_l1": 0.1, "max_leaves": 15, "min_data_in_leaf": 3, "max_bin": 63}
    assert _build("lightgbm.LGBMClassifier", params=params).get_params()["max_leaves"] == 15
    assert _build("xgboost.XGBClassifier", params={"eta": 0.2}).get_params()["eta"] == 0.2
