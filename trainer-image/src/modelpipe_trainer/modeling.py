"""The model: preprocessing derived from the schema, wrapped with the estimator.

Numeric columns are imputed (median) and scaled; categorical ones are imputed
(most frequent) and one-hot encoded with unknown categories ignored, so a new
category at serving time becomes all-zeros instead of an error. Imputers are
always present because ``maxNullFraction`` may let nulls through validation. A
classifier that takes only coded labels is wrapped to encode and decode them
(:mod:`modelpipe_trainer.labels`).
"""

from __future__ import annotations

from modelpipe_contract.runconfig import FeatureKind, SchemaSpec
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelpipe_trainer.labels import with_label_codes


def build_pipeline(schema: SchemaSpec, estimator: BaseEstimator) -> Pipeline:
    """An unfitted Pipeline: ColumnTransformer over the declared features, then the estimator."""
    numeric = [f.name for f in schema.features if f.kind is FeatureKind.NUMERIC]
    categorical = [f.name for f in schema.features if f.kind is FeatureKind.CATEGORICAL]
    transformers = []
    if numeric:
        steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        steps = [("impute", SimpleImputer(strategy="most_frequent")), ("onehot", encoder)]
        transformers.append(("categorical", Pipeline(steps), categorical))
    # Dense output: not every estimator accepts sparse input (e.g. HistGradientBoosting).
    preprocess = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    # A classifier that takes only the codes 0..n-1 (XGBoost's) is given codes and decodes.
    return Pipeline([("preprocess", preprocess), ("estimator", with_label_codes(estimator))])
