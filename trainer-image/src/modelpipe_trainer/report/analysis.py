"""The numbers behind the report's charts, computed on the holdout the gate scored.

Everything here reads the fitted model and the holdout and returns plain values, so the
page (:mod:`.page`) is a pure function of them. Work is bounded whatever the data's size:
curves and scatter plots use at most ``MAX_ROWS`` holdout rows, permutation importance at
most ``MAX_IMPORTANCE_ROWS`` rows and a few repeats, one-vs-rest curves at most
``MAX_CURVE_CLASSES`` classes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from modelpipe_contract.runconfig import Task
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from modelpipe_trainer.report.svg import Series

MAX_ROWS = 2000
MAX_IMPORTANCE_ROWS = 1000
MAX_CURVE_CLASSES = 8
MAX_CURVE_POINTS = 200
IMPORTANCE_REPEATS = 5


@dataclass(frozen=True)
class Importance:
    column: str
    mean: float
    std: float


@dataclass(frozen=True)
class Diagnostics:
    """Per task: classification fills the matrix and curves, regression the residuals."""

    classes: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    roc: list[Series] = field(default_factory=list)
    pr: list[Series] = field(default_factory=list)
    actual: list[float] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    importance: list[Importance] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PastRun:
    model_version: str
    finished_at: str
    metrics: dict[str, float]


def diagnose(
    model: Pipeline, features: pd.DataFrame, target: pd.Series, *, task: Task, seed: int
) -> Diagnostics:
    """Charts' data for the holdout (a sample of it when it is large)."""
    if len(target) > MAX_ROWS:
        features = features.sample(MAX_ROWS, random_state=seed)
        target = target.loc[features.index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = (
            _classification(model, features, target)
            if task is Task.CLASSIFICATION
            else _regression(model, features, target)
        )
        importance = _importance(model, features, target, seed=seed)
    return Diagnostics(**{**base.__dict__, "importance": importance})


def _classification(model: Pipeline, features: pd.DataFrame, target: pd.Series) -> Diagnostics:
    classes = list(model.classes_)
    predicted = model.predict(features)
    matrix = skm.confusion_matrix(target, predicted, labels=classes)
    scores = _scores(model, features)
    names = [str(c) for c in classes]
    if scores is None:
        return Diagnostics(
            classes=names,
            confusion=matrix.tolist(),
            notes=["The estimator gives no probabilities or scores: no ROC or PR curves."],
        )
    truth = target.to_numpy()
    shown = classes[1:] if len(classes) == 2 else classes[:MAX_CURVE_CLASSES]
    roc, pr = [], []
    for c in shown:
        column = scores if scores.ndim == 1 else scores[:, classes.index(c)]
        positive = truth == c
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = skm.roc_curve(positive, column)
        precision, recall, _ = skm.precision_recall_curve(positive, column)
        roc.append(Series(str(c), *_thin(fpr, tpr)))
        pr.append(Series(str(c), *_thin(recall, precision)))
    notes = []
    if len(classes) > MAX_CURVE_CLASSES:
        notes.append(f"Curves for the first {MAX_CURVE_CLASSES} of {len(classes)} classes.")
    return Diagnostics(classes=names, confusion=matrix.tolist(), roc=roc, pr=pr, notes=notes)


def _scores(model: Pipeline, features: pd.DataFrame) -> np.ndarray | None:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(features))
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(features))
    return None


def _regression(model: Pipeline, features: pd.DataFrame, target: pd.Series) -> Diagnostics:
    predicted = np.asarray(model.predict(features), dtype=float)
    actual = target.to_numpy(dtype=float)
    return Diagnostics(actual=actual.tolist(), predicted=predicted.tolist())


def _importance(
    model: Pipeline, features: pd.DataFrame, target: pd.Series, *, seed: int
) -> list[Importance]:
    rows = features.head(MAX_IMPORTANCE_ROWS)
    result = permutation_importance(
        model,
        rows,
        target.loc[rows.index],
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    found = [
        Importance(str(column), float(mean), float(std))
        for column, mean, std in zip(
            features.columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return sorted(found, key=lambda i: -i.mean)


def _thin(xs: np.ndarray, ys: np.ndarray) -> tuple[list[float], list[float]]:
    """At most MAX_CURVE_POINTS points, first and last kept."""
    if len(xs) > MAX_CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(xs) - 1, MAX_CURVE_POINTS).astype(int))
        xs, ys = xs[keep], ys[keep]
    return [float(v) for v in xs], [float(v) for v in ys]


@dataclass(frozen=True)
class ColumnProfile:
    """One declared column as the run read it, beside what the schema declared of it."""

    name: str
    kind: str
    declared: str
    observed: str
    nulls: int


def profile(frame: pd.DataFrame, columns: list[tuple[str, str, str]]) -> list[ColumnProfile]:
    """``columns`` are (name, kind, declared bounds) in schema order."""
    rows = []
    for name, kind, declared in columns:
        values = frame[name]
        if kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce")
            observed = (
                f"{numbers.min():.4g} .. {numbers.max():.4g}" if numbers.notna().any() else ""
            )
        else:
            observed = f"{values.nunique()} distinct"
        rows.append(ColumnProfile(name, kind, declared, observed, int(values.isna().sum())))
    return rows
