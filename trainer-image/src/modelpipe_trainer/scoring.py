"""Holdout metrics, with the same names and directions as ``contract.HIGHER_IS_BETTER``.

The operator gates on these numbers, so a metric that is not a finite number is
an error here rather than a ``null`` in the result: a NaN would silently compare
false against every threshold.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from modelpipe_contract.runconfig import Task
from sklearn import metrics as skm
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

Metrics = dict[str, float]
_MACRO = {"precision_macro": 0, "recall_macro": 1, "f1_macro": 2}


@dataclass(frozen=True)
class Outputs:
    """What a model said on the holdout: enough to compute any metric on any subset of rows,
    so the significance test resamples rows without calling the model again."""

    truth: np.ndarray
    predicted: np.ndarray
    proba: np.ndarray | None = None
    decision: np.ndarray | None = None
    classes: tuple[object, ...] = ()

    def take(self, rows: np.ndarray) -> Outputs:
        return Outputs(
            truth=self.truth[rows],
            predicted=self.predicted[rows],
            proba=None if self.proba is None else self.proba[rows],
            decision=None if self.decision is None else self.decision[rows],
            classes=self.classes,
        )


class MetricError(Exception):
    """The metrics could not be computed, or one came out NaN or infinite."""


def score(model: Pipeline, *, features: pd.DataFrame, target: pd.Series, task: Task) -> Metrics:
    """Every metric for the task on the holdout; ``MetricError`` if any is not finite."""
    try:
        outputs = predict(model, features=features, target=target, task=task)
    except ValueError as exc:
        raise MetricError(f"the metrics could not be computed: {exc}") from None
    return score_outputs(outputs, task=task)


def score_outputs(outputs: Outputs, *, task: Task) -> Metrics:
    """Every metric the outputs allow; ``MetricError`` if any is not finite."""
    values = measure(outputs, reported(outputs, task))
    bad = sorted(name for name, value in values.items() if not math.isfinite(value))
    if bad:
        raise MetricError(
            f"metric{'s' if len(bad) > 1 else ''} {', '.join(bad)} came out NaN or infinite on "
            f"{len(outputs.truth)} holdout rows with {len(np.unique(outputs.truth))} distinct "
            "targets (a holdout with a single class, or a model predicting NaN, does this)"
        )
    return values


def predict(model: Pipeline, *, features: pd.DataFrame, target: pd.Series, task: Task) -> Outputs:
    """The model's answers on the holdout: predictions, and for a classifier its scores."""
    truth, predicted = target.to_numpy(), np.asarray(model.predict(features))
    if task is Task.REGRESSION:
        return Outputs(truth=truth, predicted=predicted)
    classes = list(model.classes_) if is_classifier(model) else sorted(target.unique())
    if hasattr(model, "predict_proba"):
        return Outputs(
            truth, predicted, proba=model.predict_proba(features), classes=tuple(classes)
        )
    if hasattr(model, "decision_function"):
        # No probabilities (e.g. LinearSVC): ROC AUC still works on scores, log loss does not.
        decision = model.decision_function(features)
        return Outputs(truth, predicted, decision=decision, classes=tuple(classes))
    return Outputs(truth, predicted, classes=tuple(classes))


def reported(outputs: Outputs, task: Task) -> list[str]:
    """The metrics these outputs allow: log loss needs probabilities, ROC AUC some scores."""
    if task is Task.REGRESSION:
        return ["rmse", "mae", "r2"]
    names = ["accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro"]
    names += ["roc_auc"] if outputs.proba is not None or outputs.decision is not None else []
    return names + (["log_loss"] if outputs.proba is not None else [])


def measure(outputs: Outputs, names: Iterable[str]) -> Metrics:
    """The named metrics; an undefined one is NaN (never an exception), for the caller to judge."""
    values: Metrics = {}
    macro: tuple[float, ...] | None = None
    with warnings.catch_warnings():
        # Undefined metrics come back as NaN with a warning; we report the NaN instead.
        warnings.simplefilter("ignore")
        for name in names:
            try:
                if name in _MACRO:
                    # One pass for the three macro scores: each separate call recounts the labels.
                    macro = macro or _macro(outputs)
                    values[name] = macro[_MACRO[name]]
                else:
                    values[name] = float(_METRICS[name](outputs))
            except ValueError:
                values[name] = math.nan
    return values


def _macro(o: Outputs) -> tuple[float, ...]:
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        o.truth, o.predicted, average="macro", zero_division=0
    )
    return float(precision), float(recall), float(f1)


def _roc_auc(o: Outputs) -> float:
    """Binary AUC, or the macro one-vs-rest mean for multiclass.

    The one-vs-rest mean is computed here rather than by ``roc_auc_score(multi_class="ovr")``
    because that one refuses decision-function scores, which do not sum to one.
    """
    scores = o.proba if o.proba is not None else o.decision
    if scores is None:
        return math.nan
    if len(o.classes) == 2:
        positive = scores[:, 1] if scores.ndim == 2 else scores
        return float(skm.roc_auc_score(o.truth == o.classes[1], positive))
    per_class = [skm.roc_auc_score(o.truth == c, scores[:, i]) for i, c in enumerate(o.classes)]
    return float(np.mean(per_class))


def _log_loss(o: Outputs) -> float:
    if o.proba is None:
        return math.nan
    return float(skm.log_loss(o.truth, o.proba, labels=list(o.classes)))


_METRICS: dict[str, Callable[[Outputs], float]] = {
    "accuracy": lambda o: skm.accuracy_score(o.truth, o.predicted),
    "balanced_accuracy": lambda o: skm.balanced_accuracy_score(o.truth, o.predicted),
    "roc_auc": _roc_auc,
    "log_loss": _log_loss,
    "rmse": lambda o: skm.root_mean_squared_error(o.truth, o.predicted),
    "mae": lambda o: skm.mean_absolute_error(o.truth, o.predicted),
    "r2": lambda o: skm.r2_score(o.truth, o.predicted),
}
