"""The scikit-learn runtime: the skops Pipeline, fed a DataFrame built from the columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from modelpipe_trainer.serving.payloads import Columns


class SklearnPredictor:
    platform = "sklearn"

    def __init__(self, model: Pipeline) -> None:
        self.model = model
        self.has_proba = hasattr(model, "predict_proba")

    def predict(self, columns: Columns) -> np.ndarray:
        return _float64(np.asarray(self.model.predict(pd.DataFrame(columns))))

    def predict_proba(self, columns: Columns) -> np.ndarray:
        return _float64(np.asarray(self.model.predict_proba(pd.DataFrame(columns))))


def _float64(values: np.ndarray) -> np.ndarray:
    # XGBoost answers in float32; the V2 metadata declares FP64 for numbers, as the
    # onnxruntime path serves them.
    return values.astype(np.float64) if values.dtype.kind == "f" else values
