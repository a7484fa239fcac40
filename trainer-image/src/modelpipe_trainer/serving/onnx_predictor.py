"""The onnxruntime runtime: the verified ONNX graph, fed the typed arrays it declares.

The graph has one ``[N, 1]`` input per feature, in the schema's order (skl2onnx
names it after the feature, with ``_`` for what is not a word character; the
trainer lists the features in the graph's metadata): float64 for a
numeric feature (float32 in graphs converted before trees verified; each input is fed
the type it declares), string for a categorical one. Numeric nulls are NaN and imputed
inside the graph; categorical nulls are replaced here by the value the fitted
imputer would use (ONNX string tensors have no null), which the trainer stores in
the graph's metadata. The trainer ran this same class over the holdout before it
called the conversion verified, so what was verified is what is served.

Imports neither pandas nor scikit-learn: the server starts in about a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from modelpipe_contract.runconfig import FeatureKind

from modelpipe_trainer.documents import ModelSchema
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.graphs import refused_parts
from modelpipe_trainer.serving.payloads import Columns

# Keys of the graph's metadata_props written by the trainer (onnx_export).
FILL_KEY = "modelpipe.categoricalFill"
OUTPUTS_KEY = "modelpipe.outputs"
FEATURES_KEY = "modelpipe.features"  # absent in graphs whose inputs carry the names
# What the graph may declare for a feature's input: a numeric dtype, or None for text.
_INPUT_TYPES: dict[int, type[np.floating[Any]] | None] = {
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.STRING: None,
}


class OnnxPredictor:
    platform = "onnxruntime"

    def __init__(self, data: bytes, schema: ModelSchema, *, source: str) -> None:
        graph = _parse(data, source)
        refused = refused_parts(graph)
        if refused:
            raise ModelRejectedError(
                f"{source} uses what the server does not run, so it was not loaded: "
                + ", ".join(refused)
            )
        meta = {p.key: p.value for p in graph.metadata_props}
        try:
            self.fill: dict[str, str] = json.loads(meta.get(FILL_KEY, "{}"))
            self.names: dict[str, str] = json.loads(meta[OUTPUTS_KEY])
        except (KeyError, ValueError):
            raise ModelRejectedError(f"{source} lacks the trainer's output metadata") from None
        self.features = _feature_inputs(graph, meta, schema, source)
        if "predict" not in self.names:
            raise ModelRejectedError(f"{source} lacks the trainer's output metadata")
        self.has_proba = "predict_proba" in self.names
        self.labels = class_labels(schema.classes)
        self.session = _session(data, source)

    def predict(self, columns: Columns) -> np.ndarray:
        values = self._run("predict", columns).ravel()
        if self.labels is not None:
            return self.labels.of(values)
        return _float64(values) if values.dtype.kind == "f" else values

    def predict_proba(self, columns: Columns) -> np.ndarray:
        return _float64(self._run("predict_proba", columns))

    def _run(self, output: str, columns: Columns) -> np.ndarray:
        result: Any = self.session.run([self.names[output]], self._feeds(columns))[0]
        return np.asarray(result)

    def _feeds(self, columns: Columns) -> dict[str, np.ndarray]:
        feeds = {}
        for feature, name, dtype in self.features:
            values = columns[feature]
            if dtype is not None:
                feeds[name] = values.astype(dtype).reshape(-1, 1)
            else:
                fill = self.fill.get(feature, "")
                text = [v if isinstance(v, str) else fill for v in values]
                feeds[name] = np.array(text, dtype=object).reshape(-1, 1)
        return feeds


@dataclass(frozen=True)
class ClassLabels:
    """The schema's own bool or float classes, by the int64 code the graph gives each."""

    codes: np.ndarray  # int64, ascending (the classes are sorted, and int() keeps order)
    labels: np.ndarray  # bool or float64: the classes themselves, -0.0 included

    def of(self, codes: np.ndarray) -> np.ndarray:
        at = np.clip(np.searchsorted(self.codes, codes), 0, len(self.codes) - 1)
        return self.labels[at]


def class_labels(classes: list[Any]) -> ClassLabels | None:
    """How a classifier's int64 labels map back when every class the trainer saw is a bool
    or a float (the graph holds them as int64): each code to the class itself, so the value
    and its type are the scikit-learn path's. None for text and integers, which come out of
    the graph as they went in."""
    if classes and all(isinstance(c, (bool, np.bool_)) for c in classes):
        kind: type[np.generic] = np.bool_
    elif classes and all(isinstance(c, float) for c in classes):
        kind = np.float64
    else:
        return None
    codes = np.array([int(c) for c in classes], dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    return ClassLabels(codes[order], np.array(classes, dtype=kind)[order])


def _feature_inputs(
    graph: Any, meta: dict[str, str], schema: ModelSchema, source: str
) -> list[tuple[str, str, type[np.floating[Any]] | None]]:
    """(feature, its graph input, the dtype it takes or None for text), in schema order."""
    inputs = [(i.name, i.type.tensor_type.elem_type) for i in graph.graph.input]
    expected = [f.name for f in schema.features]
    names = [name for name, _ in inputs]
    try:
        features = json.loads(meta[FEATURES_KEY]) if FEATURES_KEY in meta else names
    except ValueError:
        features = None
    fitting = (
        features == expected
        and len(names) == len(expected)
        and all(
            elem in _INPUT_TYPES
            and (_INPUT_TYPES[elem] is None) == (f.kind is FeatureKind.CATEGORICAL)
            for (_, elem), f in zip(inputs, schema.features, strict=True)
        )
    )
    if not fitting:
        declared = [f"{name} ({onnx.TensorProto.DataType.Name(elem)})" for name, elem in inputs]
        wanted = [f"{f.name} ({f.kind.value})" for f in schema.features]
        raise ModelRejectedError(
            f"{source} does not match schema.json: inputs {declared}, expected {wanted}"
        )
    return [
        (feature, name, _INPUT_TYPES[elem])
        for feature, (name, elem) in zip(expected, inputs, strict=True)
    ]


def _float64(values: np.ndarray) -> np.ndarray:
    # The estimator's operators compute in float32; the V2 datatype stays FP64, as on
    # the sklearn path.
    return values.astype(np.float64)


def _parse(data: bytes, source: str) -> Any:
    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises its own DecodeError types
        raise ModelRejectedError(f"{source} is not a readable ONNX file: {exc}") from None


def _session(data: bytes, source: str) -> Any:
    options = ort.SessionOptions()
    # One thread per run: the server already runs two requests at once (intake.Limits),
    # and 1-row requests are faster without a thread pool handoff.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types
        raise ModelRejectedError(f"onnxruntime could not load {source}: {exc}") from None
