"""Class labels for classifiers that only take the codes 0..n-1 (XGBoost's).

XGBClassifier refuses any other labels ("Invalid classes inferred"), so a dataset whose
target holds text ("setosa") or gapped codes would fail at fit time. The trainer wraps
such a classifier in :class:`LabelEncodedClassifier`: it fits a ``LabelEncoder`` on the
target, hands the codes to the wrapped classifier, and decodes its predictions, so the
model predicts, scores, reports and serves the dataset's own labels. Its
``predict_proba`` columns follow ``classes_`` (sorted, as the codes are).

The wrapper is a plain scikit-learn meta-estimator (fitted state: ``label_encoder_``,
``estimator_``, ``classes_``), so skops saves and loads it like any other estimator; its
type is on the model allowlist (:mod:`modelpipe_trainer.trust`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone, is_classifier
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

# Libraries whose classifiers take only the codes 0..n-1 as labels.
CODED_LABEL_LIBRARIES = ("xgboost.",)


def needs_coded_labels(estimator: BaseEstimator) -> bool:
    module = type(estimator).__module__ + "."
    return is_classifier(estimator) and module.startswith(CODED_LABEL_LIBRARIES)


def with_label_codes(estimator: BaseEstimator) -> BaseEstimator:
    """``estimator`` wrapped in :class:`LabelEncodedClassifier` when it needs coded labels."""
    return LabelEncodedClassifier(estimator) if needs_coded_labels(estimator) else estimator


def configured(estimator: BaseEstimator) -> BaseEstimator:
    """The estimator the pipeline's config named (the wrapped one, for a wrapper)."""
    if isinstance(estimator, LabelEncodedClassifier):
        inner: BaseEstimator = estimator.estimator
        return inner
    return estimator


# scikit-learn ships no types: its bases are Any to mypy.
class LabelEncodedClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):  # type: ignore[misc]
    """``estimator`` fitted on the codes of the labels; predictions decoded back."""

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any, **fit_params: Any) -> LabelEncodedClassifier:
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        codes = self.label_encoder_.transform(y)
        self.estimator_ = clone(self.estimator).fit(X, codes, **fit_params)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        codes = np.asarray(self.estimator_.predict(X)).astype(np.int64)
        decoded: np.ndarray = self.label_encoder_.inverse_transform(codes)
        return decoded

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        probabilities: np.ndarray = self.estimator_.predict_proba(X)
        return probabilities

    @property
    def feature_importances_(self) -> np.ndarray:
        importances: np.ndarray = self.estimator_.feature_importances_
        return importances
