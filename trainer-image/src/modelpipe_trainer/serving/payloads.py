"""Request bodies to DataFrames, and predictions to response bodies (pure, no I/O).

Every value is checked against the model's ``schema.json`` before the model sees
it, and a bad one raises :class:`BadRequestError` naming the offending field, so a
client mistake is a 400 that says what to fix, never a 500 from deep in
scikit-learn. Validation is column-wise: one pass per feature over its values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelpipe_trainer.config import FeatureKind, FeatureSpec
from modelpipe_trainer.documents import ModelSchema
from modelpipe_trainer.tables import canonical_category

MAX_ROWS = 10_000
_NUMERIC_DATATYPES = frozenset(
    {
        "FP16",
        "FP32",
        "FP64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
    }
)
_MISSING = object()


class BadRequestError(Exception):
    """A request the client must fix; the message names the field."""


def frame_from_records(body: object, schema: ModelSchema) -> pd.DataFrame:
    """``{"instances": [{feature: value, ...}, ...]}`` to a typed frame."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise BadRequestError('the body must be a JSON object {"instances": [{...}, ...]}')
    rows: list[Any] = body["instances"]
    _check_row_count(len(rows), "instances")
    names = [f.name for f in schema.features]
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequestError(f"instances[{index}] must be an object of feature: value")
        unknown = sorted(set(row) - set(names))
        if unknown:
            raise BadRequestError(
                f"instances[{index}]: unknown field {unknown[0]!r} (expected: {', '.join(names)})"
            )
    columns = {
        spec.name: _column(
            [row.get(spec.name, _MISSING) for row in rows],
            spec,
            where=lambda i, n=spec.name: f"instances[{i}].{n}",
        )
        for spec in schema.features
    }
    return pd.DataFrame(columns, columns=names)


def frame_from_v2(body: object, schema: ModelSchema) -> tuple[pd.DataFrame, list[str]]:
    """A V2 inference request (one input tensor per feature) to a frame and the outputs wanted."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise BadRequestError('the body must be a V2 inference request {"inputs": [...]}')
    tensors = _tensors_by_name(body["inputs"], schema)
    lengths = {name: len(data) for name, data in tensors.items()}
    if len(set(lengths.values())) > 1:
        raise BadRequestError(f"inputs have different lengths: {lengths}")
    columns = {
        spec.name: _column(
            tensors[spec.name], spec, where=lambda i, n=spec.name: f"inputs[{n}].data[{i}]"
        )
        for spec in schema.features
    }
    return pd.DataFrame(columns), _requested_outputs(body.get("outputs"))


def _tensors_by_name(inputs: list[Any], schema: ModelSchema) -> dict[str, list[Any]]:
    specs = {f.name: f for f in schema.features}
    tensors: dict[str, list[Any]] = {}
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise BadRequestError(f"inputs[{index}] must be a tensor object with a name")
        name = tensor["name"]
        if name not in specs:
            raise BadRequestError(
                f"inputs[{index}]: unknown input {name!r} (expected: {', '.join(specs)})"
            )
        if name in tensors:
            raise BadRequestError(f"inputs[{name}] is given twice")
        tensors[name] = _tensor_data(tensor, specs[name])
    missing = [name for name in specs if name not in tensors]
    if missing:
        raise BadRequestError(
            f"inputs: missing input {missing[0]!r} (expected: {', '.join(specs)})"
        )
    return tensors


def _tensor_data(tensor: dict[str, Any], spec: FeatureSpec) -> list[Any]:
    where = f"inputs[{spec.name}]"
    datatype, shape, data = tensor.get("datatype"), tensor.get("shape"), tensor.get("data")
    allowed = (
        _NUMERIC_DATATYPES if spec.kind is FeatureKind.NUMERIC else {"BYTES"} | _NUMERIC_DATATYPES
    )
    if datatype not in allowed:
        raise BadRequestError(
            f"{where}.datatype must be one of {', '.join(sorted(allowed))}, got {datatype!r}"
        )
    if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise BadRequestError(f"{where}.shape must be a list of non-negative integers")
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise BadRequestError(
            f"{where}.shape must be [N] or [N, 1] (one column per input), got {shape}"
        )
    if not isinstance(data, list):
        raise BadRequestError(f"{where}.data must be a list")
    flat = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in data]
    if len(flat) != shape[0]:
        raise BadRequestError(f"{where}: shape {shape} does not match {len(flat)} data values")
    _check_row_count(len(flat), where)
    return flat


def _requested_outputs(outputs: object) -> list[str]:
    if outputs is None:
        return ["predict"]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise BadRequestError('outputs must be a list of {"name": ...} objects')
    names = [o.get("name") for o in outputs]
    for name in names:
        if name not in ("predict", "predict_proba"):
            raise BadRequestError(
                f"outputs: unknown output {name!r} (expected: predict, predict_proba)"
            )
    return [str(n) for n in names] or ["predict"]


def _check_row_count(rows: int, where: str) -> None:
    if rows == 0:
        raise BadRequestError(f"{where} is empty; send at least one row")
    if rows > MAX_ROWS:
        raise BadRequestError(f"{where} has {rows} rows; at most {MAX_ROWS} per request")


def _column(values: Sequence[Any], spec: FeatureSpec, *, where: Any) -> np.ndarray:
    numeric = spec.kind is FeatureKind.NUMERIC
    convert = _number if numeric else _category
    out: list[object] = []
    for index, value in enumerate(values):
        if value is _MISSING:
            raise BadRequestError(f"{where(index)} is missing")
        if value is None:
            if spec.max_null_fraction == 0:
                raise BadRequestError(f"{where(index)} must not be null")
            out.append(np.nan)
            continue
        out.append(convert(value, spec, where(index)))
    return np.array(out, dtype=np.float64 if numeric else object)


def _number(value: Any, spec: FeatureSpec, where: str) -> float:
    try:
        number = (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )
    except OverflowError:  # an int too large for a float
        number = None
    if number is None or not math.isfinite(number):
        raise BadRequestError(f"{where} must be a finite number, got {_short(value)}")
    if spec.minimum is not None and number < spec.minimum:
        raise BadRequestError(f"{where} is {number}, below the minimum {spec.minimum}")
    if spec.maximum is not None and number > spec.maximum:
        raise BadRequestError(f"{where} is {number}, above the maximum {spec.maximum}")
    return number


def _category(value: Any, spec: FeatureSpec, where: str) -> object:
    if not isinstance(value, str | int | float | bool):
        raise BadRequestError(f"{where} must be a string, got {type(value).__name__}")
    text = canonical_category(value)
    if spec.allowed_values is not None and text not in spec.allowed_values:
        raise BadRequestError(f"{where} is {_short(text)}, not one of {spec.allowed_values}")
    return text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def output_tensor(name: str, values: np.ndarray, *, classes: Sequence[Any] = ()) -> dict[str, Any]:
    """One V2 output tensor; ``predict_proba`` carries its column labels as a parameter."""
    tensor: dict[str, Any] = {
        "name": name,
        "shape": list(values.shape),
        "datatype": v2_datatype(values.dtype),
        "data": values.ravel().tolist(),
    }
    if name == "predict_proba":
        tensor["parameters"] = {"classes": list(classes)}
    return tensor


def v2_datatype(dtype: np.dtype[Any]) -> str:
    if dtype.kind == "f":
        return "FP64" if dtype.itemsize == 8 else "FP32"
    if dtype.kind in "iu":
        return f"{'INT' if dtype.kind == 'i' else 'UINT'}{dtype.itemsize * 8}"
    if dtype.kind == "b":
        return "BOOL"
    return "BYTES"
