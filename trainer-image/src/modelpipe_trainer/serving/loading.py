"""Choosing the runtime for a model directory and loading it.

    lineage.onnx.verified ─▶ model.onnx checked against manifest.json ─▶ onnxruntime
    otherwise (or runtime "sklearn") ─▶ model.skops under the skops allowlist ─▶ scikit-learn

Each runtime's module is imported only when chosen, so the ONNX path never
imports pandas, scikit-learn or skops. A verified ONNX model whose file is
missing or does not match the manifest is refused (exit 6), never quietly served
by the other runtime: the directory is not what the trainer wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from modelpipe_trainer.documents import (
    LINEAGE_FILE,
    MODEL_FILE,
    ONNX_FILE,
    SCHEMA_FILE,
    Lineage,
    ModelSchema,
)
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.modeldir import checked_read, read_document
from modelpipe_trainer.serving.predictor import Predictor, ServedModel


class Runtime(StrEnum):
    AUTO = "auto"  # onnxruntime when the trainer verified a graph, else scikit-learn
    SKLEARN = "sklearn"
    ONNX = "onnx"  # onnxruntime or refuse


def load_served(
    model_dir: Path, *, runtime: Runtime = Runtime.AUTO, extra_prefixes: Sequence[str] = ()
) -> ServedModel:
    """Load and check a model directory; raise ``ModelRejectedError`` saying what is wrong."""
    if not model_dir.is_dir():
        raise ModelRejectedError(f"{model_dir} is not a directory")
    schema = read_document(model_dir / SCHEMA_FILE, ModelSchema)
    lineage = read_document(model_dir / LINEAGE_FILE, Lineage)
    predictor: Predictor
    verified = lineage.onnx is not None and lineage.onnx.verified
    if runtime is not Runtime.SKLEARN and verified:
        from modelpipe_trainer.serving.onnx_predictor import OnnxPredictor

        source = str(model_dir / ONNX_FILE)
        predictor = OnnxPredictor(checked_read(model_dir, ONNX_FILE), schema, source=source)
    elif runtime is Runtime.ONNX:
        why = lineage.onnx.reason if lineage.onnx is not None else "trained before ONNX support"
        raise ModelRejectedError(f"{model_dir} has no verified ONNX model ({why})")
    else:
        from modelpipe_trainer.bundle import load_model
        from modelpipe_trainer.serving.sklearn_predictor import SklearnPredictor

        model = load_model(model_dir / MODEL_FILE, extra_prefixes=extra_prefixes)
        predictor = SklearnPredictor(model)
    return ServedModel(path=model_dir, schema=schema, lineage=lineage, predictor=predictor)
