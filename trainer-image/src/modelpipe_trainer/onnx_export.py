"""Converting the fitted Pipeline to ONNX and verifying it on the holdout.

    fitted Pipeline ─▶ skl2onnx graph ─▶ allow-list ─▶ holdout through both runtimes
                    ─▶ verified: model.onnx written, served by onnxruntime
                    ─▶ otherwise: no model.onnx, served by scikit-learn, reason recorded

Verification runs the server's own :class:`OnnxPredictor` on the holdout rows and
compares with the Pipeline: predicted classes must be identical (values and type),
probabilities and regression predictions within ``|onnx - sklearn| <= ABS_TOLERANCE
+ REL_TOLERANCE * |sklearn|``, plus, for a regressor whose prediction is a tree
ensemble's sum, the rounding of that float32 sum (:mod:`float32_sums`). The graph
takes float64 inputs, imputes and scales them in float64 as the Pipeline does, then
casts them to float32 for the estimator.
That cast is what scikit-learn's trees do to their input (skl2onnx adjusts the
float32 thresholds to match), so a row on a split takes the same branch in both
runtimes; scaling in float32 instead flipped such rows.
XGBoost and LightGBM convert through onnxmltools' converters, HistGradientBoosting
through skl2onnx's own with float64 thresholds and leaves (:mod:`onnx_boosters`, which
says why the same verification holds for them). LightGBM and HistGradientBoosting
compare in float64, so their graphs skip the cast and their tree operators keep
float64 tensors (``nodes_values_as_tensor``, ML opset 3), which onnxruntime 1.32 runs
on float64 input. Nothing here fails the run: a
model that cannot be converted or verified is still a good scikit-learn model.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from modelpipe_contract.runconfig import FeatureKind
from sklearn.pipeline import Pipeline

from modelpipe_trainer.documents import ModelSchema, OnnxRecord
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.evaluation import Holdout
from modelpipe_trainer.float32_sums import (
    absolute_graph,
    allowance,
    summed_terms,
    summing_ensemble,
)
from modelpipe_trainer.onnx_boosters import (
    float32_sum_sides,
    is_booster,
    register_boosters,
    takes_float64,
)
from modelpipe_trainer.serving.onnx_predictor import (
    FEATURES_KEY,
    FILL_KEY,
    OUTPUTS_KEY,
    OnnxPredictor,
)

REL_TOLERANCE = 1e-4
ABS_TOLERANCE = 1e-5
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnnxExport:
    record: OnnxRecord
    data: bytes | None  # the graph, only when verified


def export_onnx(
    model: Pipeline, holdout: Holdout, *, schema: ModelSchema, fit_seconds: float
) -> OnnxExport:
    """Convert and verify; never raises for a model that does not convert."""
    started = time.perf_counter()
    base = {"rel_tolerance": REL_TOLERANCE, "abs_tolerance": ABS_TOLERANCE}
    base["fit_seconds"] = round(fit_seconds, 3)
    try:
        data = _convert(model, schema)
    except Exception as exc:  # skl2onnx raises anything from missing converters to shape errors
        reason = f"no ONNX conversion: {_describe(exc)}"
        return _done(OnnxExport(_record(base, started, converted=False, reason=reason), None))
    try:
        predictor = OnnxPredictor(data, schema, source="the converted graph")
        difference, problem, summation = _compare(model, predictor, holdout, schema, data)
    except ModelRejectedError as exc:  # outside the allow-list
        reason = str(exc)
        return _done(OnnxExport(_record(base, started, converted=True, reason=reason), None))
    except Exception as exc:  # onnxruntime errors have their own types
        reason = f"the ONNX graph did not run: {_describe(exc)}"
        return _done(OnnxExport(_record(base, started, converted=True, reason=reason), None))
    rows = len(holdout.target)
    record = _record(
        base, started, converted=True, verified=problem is None, reason=problem, rows=rows
    )
    record.max_difference = difference
    record.summation_tolerance = summation
    return _done(OnnxExport(record, data if problem is None else None))


def _convert(model: Pipeline, schema: ModelSchema) -> bytes:
    from skl2onnx import convert_sklearn  # here: it takes a second to import
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from sklearn.impute import SimpleImputer

    graph_model, fill = _graph_model(model)
    if is_booster(model.named_steps["estimator"]):
        register_boosters()  # XGBoost, LightGBM (onnxmltools) and HistGradientBoosting
    types = [
        (f.name, DoubleTensorType([None, 1]))
        if f.kind is FeatureKind.NUMERIC
        else (f.name, StringTensorType([None, 1]))
        for f in schema.features
    ]
    is_classifier = bool(schema.classes)
    options = {id(graph_model): {"zipmap": False}} if is_classifier else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = convert_sklearn(
            graph_model,
            initial_types=types,
            options=options,
            target_opset=TARGET_OPSET,
            custom_conversion_functions={SimpleImputer: _convert_numeric_imputer},
        )
    outputs = [o.name for o in graph.graph.output]
    names = {"predict": outputs[0]}
    if is_classifier and hasattr(model, "predict_proba") and len(outputs) > 1:
        names["predict_proba"] = outputs[1]
    # skl2onnx keeps the inputs in this order but renames them (e.g. "petal length (cm)"
    # becomes "petal_length__cm_"); the predictor pairs them by position with these.
    features = [f.name for f in schema.features]
    meta = {FILL_KEY: json.dumps(fill), OUTPUTS_KEY: json.dumps(names)}
    meta[FEATURES_KEY] = json.dumps(features)
    for key, value in meta.items():
        prop = graph.metadata_props.add()
        prop.key, prop.value = key, value
    return bytes(graph.SerializeToString())


def _graph_model(model: Pipeline) -> tuple[Pipeline, dict[str, str]]:
    """A copy to convert, and the categorical values it leaves to the predictor to impute.

    - The numeric branch (imputed and scaled in float64, like the Pipeline) ends in a
      cast to float32, as scikit-learn's trees cast their input (module docstring),
      except before LightGBM and HistGradientBoosting, which compare in float64
      (onnx_boosters).
    - The categorical branch is only the encoder: skl2onnx cannot convert a string
      imputer whose missing value is NaN, and ONNX string tensors have no null; the
      predictor fills nulls with the fitted imputer's values instead.
    """
    from skl2onnx.sklapi import CastTransformer

    graph_model = copy.deepcopy(model)
    cast = not takes_float64(model.named_steps["estimator"])
    preprocess = graph_model.named_steps["preprocess"]
    fill: dict[str, str] = {}
    transformers = []
    for name, transformer, columns in preprocess.transformers_:
        if name == "numeric" and cast:
            transformer.steps.append(("float32", CastTransformer(dtype=np.float32)))
        if name == "categorical":
            statistics = transformer.named_steps["impute"].statistics_
            fill.update({c: str(v) for c, v in zip(columns, statistics, strict=True)})
            transformer = transformer.named_steps["onehot"]
        transformers.append((name, transformer, columns))
    preprocess.transformers_ = transformers
    return graph_model, fill


def _convert_numeric_imputer(scope: Any, operator: Any, container: Any) -> None:
    """``SimpleImputer`` in float64: ``Where(IsNaN(x), statistics, x)``.

    skl2onnx emits ``ai.onnx.ml.Imputer``, whose fill values are float32 and which
    onnxruntime runs only on float32 inputs.
    """
    from skl2onnx.operator_converters.common import concatenate_variables
    from skl2onnx.proto import onnx_proto

    features = concatenate_variables(scope, operator.inputs, container)
    statistics = operator.raw_operator.statistics_.astype(np.float64)
    fills = scope.get_unique_variable_name("statistics")
    container.add_initializer(
        fills, onnx_proto.TensorProto.DOUBLE, [1, statistics.size], statistics.tolist()
    )
    missing = scope.get_unique_variable_name("missing")
    container.add_node("IsNaN", [features], [missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where",
        [missing, fills, features],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Where"),
    )


def _compare(
    model: Pipeline, predictor: OnnxPredictor, holdout: Holdout, schema: ModelSchema, data: bytes
) -> tuple[float | None, str | None, float]:
    """The largest difference, what failed verification (None if nothing), and the largest
    float32 summation allowance used."""
    columns = {
        f.name: holdout.features[f.name].to_numpy(
            dtype=np.float64 if f.kind is FeatureKind.NUMERIC else object
        )
        for f in schema.features
    }
    expected = np.asarray(model.predict(holdout.features))
    got = predictor.predict(columns)
    summation = np.zeros(0)
    if schema.classes:
        if _kind(expected) != _kind(got):  # e.g. bool or float labels, int64 in the graph
            problem = f"the graph's class labels are {got.dtype}, the Pipeline's {expected.dtype}"
            return None, problem, 0.0
        if not np.array_equal(expected, got):
            wrong = int(np.sum(expected != got)) if expected.shape == got.shape else len(expected)
            return None, f"predicted classes differ on {wrong} holdout rows", 0.0
        if not predictor.has_proba:
            return 0.0, None, 0.0
        expected = np.asarray(model.predict_proba(holdout.features))
        got = predictor.predict_proba(columns)
    else:
        summation = _summation_allowance(data, predictor, columns, schema)
        summation = summation * float32_sum_sides(model.named_steps["estimator"])
    largest = float(summation.max()) if summation.size else 0.0
    difference = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    tolerance = ABS_TOLERANCE + REL_TOLERANCE * np.abs(expected)
    if summation.size:
        tolerance = tolerance + summation
    if np.any(np.abs(got - expected) > tolerance):
        return difference, f"outputs differ by up to {difference:.3g}, over the tolerance", largest
    return difference, None, largest


def _summation_allowance(
    data: bytes, predictor: OnnxPredictor, columns: dict[str, np.ndarray], schema: ModelSchema
) -> np.ndarray:
    """Per holdout row, the float32 rounding of the ensemble's sum; empty when the
    prediction is not a plain tree-ensemble sum (float32_sums)."""
    graph = onnx.load_model_from_string(data)
    node = summing_ensemble(graph, predictor.names["predict"])
    if node is None:
        return np.zeros(0)
    absolute = OnnxPredictor(absolute_graph(graph, node.name), schema, source="|graph|")
    return allowance(absolute.predict(columns), summed_terms(node))


def _kind(values: np.ndarray) -> str:
    return "text" if values.dtype.kind in "OUS" else values.dtype.kind


def _record(base: dict[str, Any], started: float, **fields: Any) -> OnnxRecord:
    seconds = round(time.perf_counter() - started, 3)
    return OnnxRecord.model_validate({**base, **fields, "seconds": seconds})


def _done(export: OnnxExport) -> OnnxExport:
    record = export.record
    if record.verified:
        difference = record.max_difference or 0.0
        log.info(
            "Verified the ONNX graph on %d holdout rows (max difference %.3g)",
            record.rows,
            difference,
        )
    else:
        log.warning("The model will be served by scikit-learn: %s", record.reason)
    return export


def _describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
