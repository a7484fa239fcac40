"""Request bodies to typed columns, and which outputs a request wants (pure, no I/O).

Every value is checked against the model's ``schema.json`` before the model sees
it, and a bad one raises :class:`BadRequestError` naming the offending field, so a
client mistake is a 400 that says what to fix, never a 500 from deep in
scikit-learn. Validation is column-wise: one pass per feature over its values.
The result is one numpy array per feature (float64, or object holding canonical
text with ``np.nan`` for a null); each runtime assembles what its model takes
from them, so this module needs no pandas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from modelpipe_contract.runconfig import FeatureKind, FeatureSpec

from modelpipe_trainer.categories import canonical_category
from modelpipe_trainer.documents import ModelSchema

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
# One array per feature, in the schema's order.
Columns = dict[str, np.ndarray]


class BadRequestError(Exception):
    """A request the client must fix; the message names the field, ``status`` is the HTTP code."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def columns_from_records(body: object, schema: ModelSchema) -> Columns:
    """``{"instances": [{feature: value, ...}, ...]}`` to typed columns."""
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
    return {
        spec.name: _column(
            [row.get(spec.name, _MISSING) for row in rows],
            spec,
            where=lambda i, n=spec.name: f"instances[{i}].{n}",
        )
        for spec in schema.features
    }


def columns_from_v2(body: object, schema: ModelSchema) -> Columns:
    """A V2 inference request to typed columns: one tensor per feature, or one ``[N, F]`` tensor.

    The single-tensor form is what KServe's sklearn server and MLServer accept: any
    name, columns in the order of the model metadata's inputs.
    """
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise BadRequestError('the body must be a V2 inference request {"inputs": [...]}')
    inputs: list[Any] = body["inputs"]
    names = {f.name for f in schema.features}
    only = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], dict) else {}
    if isinstance(only.get("name"), str) and only["name"] not in names:
        tensors = _matrix_columns(only, schema)
    else:
        tensors = _tensors_by_name(inputs, schema)
    lengths = {name: len(data) for name, data in tensors.items()}
    if len(set(lengths.values())) > 1:
        raise BadRequestError(f"inputs have different lengths: {lengths}")
    return {
        spec.name: _column(
            tensors[spec.name], spec, where=lambda i, n=spec.name: f"inputs[{n}].data[{i}]"
        )
        for spec in schema.features
    }


def _matrix_columns(tensor: dict[str, Any], schema: ModelSchema) -> dict[str, list[Any]]:
    width = len(schema.features)
    where = f"inputs[{_short(tensor.get('name'))}]"
    numeric = all(f.kind is FeatureKind.NUMERIC for f in schema.features)
    shape = _checked_shape(tensor, where, numeric=numeric)
    if len(shape) != 2 or shape[1] != width:
        order = ", ".join(f.name for f in schema.features)
        raise BadRequestError(
            f"{where}: one input tensor must have shape [N, {width}] (columns: {order}),"
            f" got {shape}; or send one tensor per feature"
        )
    _check_row_count(shape[0], where)
    data = _flat_data(tensor, shape, where)
    return {spec.name: data[i::width] for i, spec in enumerate(schema.features)}


def _tensors_by_name(inputs: list[Any], schema: ModelSchema) -> dict[str, list[Any]]:
    specs = {f.name: f for f in schema.features}
    tensors: dict[str, list[Any]] = {}
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise BadRequestError(f"inputs[{index}] must be a tensor object with a name")
        name = tensor["name"]
        if name not in specs:
            raise BadRequestError(
                f"inputs[{index}]: unknown input {_short(name)} (expected: {', '.join(specs)})"
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
    shape = _checked_shape(tensor, where, numeric=spec.kind is FeatureKind.NUMERIC)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise BadRequestError(
            f"{where}.shape must be [N] or [N, 1] (one column per input), got {shape}"
        )
    _check_row_count(shape[0], where)
    return _flat_data(tensor, shape, where)


def _checked_shape(tensor: dict[str, Any], where: str, *, numeric: bool) -> list[int]:
    datatype, shape = tensor.get("datatype"), tensor.get("shape")
    allowed = _NUMERIC_DATATYPES if numeric else {"BYTES"} | _NUMERIC_DATATYPES
    if not isinstance(datatype, str) or datatype not in allowed:
        raise BadRequestError(
            f"{where}.datatype must be one of {', '.join(sorted(allowed))}, got {_short(datatype)}"
        )
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise BadRequestError(f"{where}.shape must be a list of non-negative integers")
    return shape


def _flat_data(tensor: dict[str, Any], shape: list[int], where: str) -> list[Any]:
    """The tensor's data, row-major; the V2 JSON form allows nested rows as well as flat."""
    data = tensor.get("data")
    if not isinstance(data, list):
        raise BadRequestError(f"{where}.data must be a list")
    flat = data
    if data and isinstance(data[0], list):
        if not all(isinstance(row, list) for row in data):
            raise BadRequestError(f"{where}.data must be flat or a list of rows")
        flat = [v for row in data for v in row]
    if len(flat) != math.prod(shape):
        raise BadRequestError(f"{where}: shape {shape} does not match {len(flat)} data values")
    return flat


def requested_outputs(body: object, available: Sequence[str]) -> list[OutputRequest]:
    """The outputs to answer with (all of them when the request names none), and which are binary.

    ``binary_data_output`` (request) and ``binary_data`` (per output) are the binary
    tensor extension's switches, as tritonclient sends them.
    """
    request = body if isinstance(body, dict) else {}
    default_binary = _flag(request.get("parameters"), "binary_data_output")
    outputs = request.get("outputs")
    if outputs is None or outputs == []:
        return [OutputRequest(name, binary=default_binary) for name in available]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise BadRequestError('outputs must be a list of {"name": ...} objects')
    wanted = []
    for output in outputs:
        name = output.get("name")
        if name not in available:
            raise BadRequestError(
                f"outputs: unknown output {_short(name)} (expected: {', '.join(available)})"
            )
        binary = _flag(output.get("parameters"), "binary_data", default=default_binary)
        wanted.append(OutputRequest(str(name), binary=binary))
    return wanted


@dataclass(frozen=True)
class OutputRequest:
    name: str
    binary: bool


def _flag(parameters: object, key: str, *, default: bool = False) -> bool:
    if not isinstance(parameters, dict) or key not in parameters:
        return default
    value = parameters[key]
    if not isinstance(value, bool):
        raise BadRequestError(f"parameters.{key} must be true or false, got {_short(value)}")
    return value


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


def v2_datatype(dtype: np.dtype[Any]) -> str:
    if dtype.kind == "f":
        return "FP64" if dtype.itemsize == 8 else "FP32"
    if dtype.kind in "iu":
        return f"{'INT' if dtype.kind == 'i' else 'UINT'}{dtype.itemsize * 8}"
    if dtype.kind == "b":
        return "BOOL"
    return "BYTES"
