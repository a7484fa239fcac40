"""Bytes to a V2 request and a V2 answer to bytes: JSON, or JSON plus binary tensors (pure).

The binary tensor extension (what tritonclient sends by default): the body is a
JSON header of ``Inference-Header-Content-Length`` bytes, followed by the raw data
of every input whose ``parameters.binary_data_size`` says so, in input order.
Numbers are little-endian; a BYTES element is a 4-byte little-endian length and
then its bytes. Answers use the same layout for the outputs asked for in binary.

Every malformed body is a :class:`BadRequestError` (400): invalid JSON or UTF-8,
nesting deeper than the decoder allows, an integer longer than Python converts
(4,300 digits), or binary sizes that do not add up.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelpipe_trainer.serving.payloads import BadRequestError, OutputRequest

HEADER_LENGTH = "inference-header-content-length"
_BINARY_DTYPES = {
    "BOOL": "?",
    "INT8": "i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


def parse_json(data: bytes) -> Any:
    """The JSON document in ``data``; anything malformed is a 400 that says why."""
    try:
        return json.loads(data)
    except RecursionError:
        raise BadRequestError("the body is not valid JSON: it is nested too deeply") from None
    except UnicodeDecodeError:
        raise BadRequestError("the body is not valid JSON: it is not UTF-8") from None
    except ValueError as exc:  # JSONDecodeError, and integers past the digit limit
        raise BadRequestError(f"the body is not valid JSON: {_first_line(exc)}") from None


def parse_request(body: bytes, *, header_length: str | None) -> Any:
    """A V2 request from its body, with binary input data decoded into each tensor's ``data``."""
    if header_length is None:
        return parse_json(body)
    if not header_length.isdigit() or int(header_length) > len(body):
        raise BadRequestError(
            "Inference-Header-Content-Length must be the length of the JSON header in bytes,"
            f" at most the body's {len(body)}; got {header_length[:20]!r}"
        )
    split = int(header_length)
    request = parse_json(body[:split])
    _attach_binary(request, memoryview(body)[split:])
    return request


def _attach_binary(request: Any, rest: memoryview) -> None:
    inputs = request.get("inputs") if isinstance(request, dict) else None
    offset = 0
    for index, tensor in enumerate(inputs if isinstance(inputs, list) else []):
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
            continue
        size = parameters["binary_data_size"]
        if type(size) is not int or size < 0 or offset + size > len(rest):
            raise BadRequestError(
                f"inputs[{index}].parameters.binary_data_size must be a byte count within"
                f" the {len(rest)} bytes after the JSON header, got {str(size)[:20]}"
            )
        tensor["data"] = _decode_tensor(rest[offset : offset + size], tensor.get("datatype"), index)
        offset += size
    if offset != len(rest):
        raise BadRequestError(
            f"the body has {len(rest) - offset} bytes after the JSON header and the binary"
            " inputs that no input's binary_data_size accounts for"
        )


def _decode_tensor(raw: memoryview, datatype: object, index: int) -> list[Any]:
    if datatype == "BYTES":
        return _decode_bytes(raw, index)
    dtype = _BINARY_DTYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise BadRequestError(
            f"inputs[{index}].datatype {str(datatype)[:20]!r} cannot be sent as binary data"
        )
    if len(raw) % np.dtype(dtype).itemsize:
        raise BadRequestError(
            f"inputs[{index}]: {len(raw)} bytes is not a whole number of {datatype} values"
        )
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    return values


def _decode_bytes(raw: memoryview, index: int) -> list[Any]:
    values, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise BadRequestError(f"inputs[{index}]: a BYTES element's length is cut short")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise BadRequestError(f"inputs[{index}]: a BYTES element runs past its data")
        try:
            values.append(bytes(raw[offset : offset + length]).decode())
        except UnicodeDecodeError:
            raise BadRequestError(f"inputs[{index}]: a BYTES element is not UTF-8") from None
        offset += length
    return values


def encode_answer(
    answer: dict[str, Any], outputs: Sequence[tuple[OutputRequest, dict[str, Any], np.ndarray]]
) -> tuple[bytes, dict[str, str]]:
    """The response body and its headers; ``outputs`` are (request, tensor header, values)."""
    chunks: list[bytes] = []
    tensors = []
    for wanted, tensor, values in outputs:
        if wanted.binary:
            raw = _encode_tensor(values, tensor["datatype"])
            tensors.append({**tensor, "parameters": {"binary_data_size": len(raw)}})
            chunks.append(raw)
        else:
            tensors.append({**tensor, "data": values.ravel().tolist()})
    header = json.dumps({**answer, "outputs": tensors}, separators=(",", ":")).encode()
    if not chunks:
        return header, {"content-type": "application/json"}
    headers = {"content-type": "application/octet-stream", HEADER_LENGTH: str(len(header))}
    return b"".join([header, *chunks]), headers


def _encode_tensor(values: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = [str(v).encode() for v in values.ravel().tolist()]
        return b"".join(struct.pack("<I", len(p)) + p for p in parts)
    return np.ascontiguousarray(values, dtype=_BINARY_DTYPES[datatype]).tobytes()


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
