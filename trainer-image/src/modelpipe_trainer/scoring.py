"""Holdout metrics, with the same names and directions as ``contract.HIGHER_IS_BETTER``.

The operator gates on these numbers, so a metric that is not a finite number is
an error here rather than a ``null`` in the result: a NaN would silently compare
false against every threshold.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

from modelpipe_trainer.config import Task

Metrics = dict[str, float]


class MetricError(Exception):
    """The metrics could not be computed, or one came out NaN or infinite."""


def score(model: Pipeline, *, features: pd.DataFrame, target: pd.Series, task: Task) -> Metrics:
    """Every metric for the task on the holdout; ``MetricError`` if any is not finite."""
    with warnings.catch_warnings():
        # Undefined metrics come back as NaN with a warning; we report the NaN instead.
        warnings.simplefilter("ignore")
        try:
            values = (
                _classification(model, features, target)
                if task is Task.CLASSIFICATION
                else _regression(model, features, target)
            )
        except ValueError as exc:
            raise MetricError(f"the metrics could not be computed: {exc}") from None
    bad = sorted(name for name, value in values.items() if not math.isfinite(value))
    if bad:
        raise MetricError(
            f"metric{'s' if len(bad) > 1 else ''} {', '.join(bad)} came out NaN or infinite on "
            f"{len(target)} holdout rows with {target.nunique()} distinct targets "
            "(a holdout with a single class, or a model predicting NaN, does this)"
        )
    return values


def _classification(model: Pipeline, features: pd.DataFrame, target: pd.Series) -> Metrics:
    predicted = model.predict(features)
    # One pass for the three macro scores: each separate call recounts the labels.
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        target, predicted, average="macro", zero_division=0
    )
    values = {
        "accuracy": skm.accuracy_score(target, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(target, predicted),
        "f1_macro": f1,
        "precision_macro": precision,
        "recall_macro": recall,
    }
    classes = list(model.classes_) if is_classifier(model) else sorted(target.unique())
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(features)
        values["roc_auc"] = _roc_auc(target, proba, classes)
        values["log_loss"] = skm.log_loss(target, proba, labels=classes)
    elif hasattr(model, "decision_function"):
        # No probabilities (e.g. LinearSVC): ROC AUC still works on scores, log loss does not.
        values["roc_auc"] = _roc_auc(target, model.decision_function(features), classes)
    return {name: float(value) for name, value in values.items()}


def _roc_auc(target: pd.Series, scores: np.ndarray, classes: list[object]) -> float:
    """Binary AUC, or the macro one-vs-rest mean for multiclass.

    The one-vs-rest mean is computed here rather than by ``roc_auc_score(multi_class="ovr")``
    because that one refuses decision-function scores, which do not sum to one.
    """
    truth = target.to_numpy()
    if len(classes) == 2:
        positive = scores[:, 1] if scores.ndim == 2 else scores
        return float(skm.roc_auc_score(truth == classes[1], positive))
    per_class = [skm.roc_auc_score(truth == c, scores[:, i]) for i, c in enumerate(classes)]
    return float(np.mean(per_class))


def _regression(model: Pipeline, features: pd.DataFrame, target: pd.Series) -> Metrics:
    predicted = model.predict(features)
    return {
        "rmse": float(skm.root_mean_squared_error(target, predicted)),
        "mae": float(skm.mean_absolute_error(target, predicted)),
        "r2": float(skm.r2_score(target, predicted)),
    }
