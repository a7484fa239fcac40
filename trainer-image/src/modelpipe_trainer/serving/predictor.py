"""What the server needs from a model, whichever runtime runs it.

Two runtimes implement :class:`Predictor`: scikit-learn on the skops Pipeline
(:mod:`.sklearn_predictor`, needs pandas) and onnxruntime on the verified ONNX
graph (:mod:`.onnx_predictor`, needs neither pandas nor scikit-learn). Both take
the typed columns :mod:`.payloads` produces after validating a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from modelpipe_trainer.documents import Lineage, ModelSchema
from modelpipe_trainer.serving.payloads import Columns


class Predictor(Protocol):
    # "sklearn" or "onnxruntime": the V2 metadata's platform.
    platform: str
    # Whether the model has predict_proba (a classifier; not every one does).
    has_proba: bool

    def predict(self, columns: Columns) -> np.ndarray: ...

    def predict_proba(self, columns: Columns) -> np.ndarray: ...


@dataclass(frozen=True)
class ServedModel:
    """One loaded model directory: its documents and the runtime that answers for it."""

    path: Path
    schema: ModelSchema
    lineage: Lineage
    predictor: Predictor
