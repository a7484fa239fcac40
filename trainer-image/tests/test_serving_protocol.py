"""Open Inference Protocol V2 details, in-process: versioned routes, default outputs,
scalar parameters, the error shape, one ``[N, F]`` tensor, the binary tensor extension."""

from __future__ import annotations

import json
import struct
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from modelpipe_trainer.bundle import ModelBundle

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.0, 2.7, 4.1, 1.3], [6.7, 3.0, 5.2, 2.3]]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
HEADER = "Inference-Header-Content-Length"


def _columns() -> list[dict[str, Any]]:
    return [
        {"name": n, "shape": [3], "datatype": "FP64", "data": [r[i] for r in ROWS]}
        for i, n in enumerate(FEATURES)
    ]


def _expected(bundle: ModelBundle) -> list[str]:
    return list(bundle.model.predict(pd.DataFrame(ROWS, columns=FEATURES)))


@pytest.mark.parametrize("path", ["", "/ready", "/infer"])
async def test_versioned_routes_answer(iris_client: httpx.AsyncClient, path: str) -> None:
    url = f"/v2/models/iris/versions/v1{path}"
    if path == "/infer":
        response = await iris_client.post(url, json={"inputs": _columns()})
    else:
        response = await iris_client.get(url)
    assert response.status_code == 200, response.text
    other = await iris_client.request(response.request.method, url.replace("/v1", "/v9"))
    assert other.status_code == 404
    assert "unknown version 'v9'" in other.json()["error"]


async def test_versioned_ready_says_ready(iris_client: httpx.AsyncClient) -> None:
    ready = await iris_client.get("/v2/models/iris/versions/v1/ready")
    assert ready.json() == {"name": "iris", "ready": True}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v2/nowhere", 404),
        ("GET", "/v2/models/iris/infer", 405),
        ("PUT", "/predict", 405),
        ("DELETE", "/v2/models/iris/versions/v1/infer", 405),
    ],
)
async def test_unknown_routes_and_methods_answer_the_error_shape(
    iris_client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await iris_client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    if status == 405:
        assert "POST" in response.headers["allow"]


async def test_a_request_without_outputs_gets_every_output(
    iris_client: httpx.AsyncClient, iris_bundle: ModelBundle
) -> None:
    answer = (await iris_client.post("/v2/models/iris/infer", json={"inputs": _columns()})).json()
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert list(outputs) == ["predict", "predict_proba", "classes"]
    assert outputs["predict"]["data"] == _expected(iris_bundle)
    assert outputs["predict_proba"]["shape"] == [3, 3]
    assert outputs["classes"] == {
        "name": "classes",
        "shape": [3],
        "datatype": "BYTES",
        "data": ["setosa", "versicolor", "virginica"],
    }
    assert isinstance(answer["id"], str) and answer["id"]


def _parameters(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, list):
        return [p for item in document for p in _parameters(item)]
    if not isinstance(document, dict):
        return []
    found = [document["parameters"]] if "parameters" in document else []
    return found + [p for k, v in document.items() if k != "lineage" for p in _parameters(v)]


async def test_every_parameter_value_is_a_scalar(iris_client: httpx.AsyncClient) -> None:
    meta = (await iris_client.get("/v2/models/iris")).json()
    answer = (await iris_client.post("/v2/models/iris/infer", json={"inputs": _columns()})).json()
    parameters = _parameters(meta) + _parameters(answer)
    assert parameters, "the metadata carries at least the task"
    for found in parameters:
        assert all(isinstance(v, str | int | float | bool) for v in found.values()), found


@pytest.mark.parametrize("nested", [False, True])
async def test_one_n_by_f_tensor_is_accepted(
    iris_client: httpx.AsyncClient, iris_bundle: ModelBundle, nested: bool
) -> None:
    data = ROWS if nested else [v for row in ROWS for v in row]
    tensor = {"name": "input-0", "shape": [3, 4], "datatype": "FP32", "data": data}
    body = {"inputs": [tensor], "outputs": [{"name": "predict"}]}
    response = await iris_client.post("/v2/models/iris/infer", json=body)
    assert response.json()["outputs"][0]["data"] == _expected(iris_bundle)


@pytest.mark.parametrize(
    ("shape", "data", "expected"),
    [
        ([3, 3], [[1.0, 2.0, 3.0]] * 3, "must have shape [N, 4] (columns: sepal_length"),
        ([12], [1.0] * 12, "must have shape [N, 4]"),
        ([3, 4], [[1.0] * 4, 2.0, [1.0] * 4], "data must be flat or a list of rows"),
        ([3, 4], [1.0] * 11, "shape [3, 4] does not match 11 data values"),
        ([1, 4], [[1.0, 2.0, 3.0, 11.0]], "inputs[petal_width].data[0] is 11.0, above the max"),
    ],
)
async def test_a_bad_n_by_f_tensor_is_a_400_that_says_why(
    iris_client: httpx.AsyncClient, shape: list[int], data: list[Any], expected: str
) -> None:
    tensor = {"name": "x", "shape": shape, "datatype": "FP64", "data": data}
    response = await iris_client.post("/v2/models/iris/infer", json={"inputs": [tensor]})
    assert response.status_code == 400
    assert expected in response.json()["error"]


def _binary_body(header: dict[str, Any], *chunks: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + b"".join(chunks), {HEADER: str(len(head))}


def _bytes_tensor(values: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


async def test_binary_inputs_and_outputs(
    iris_client: httpx.AsyncClient, iris_bundle: ModelBundle
) -> None:
    matrix = np.asarray(ROWS, dtype="<f4").tobytes()
    header = {
        "inputs": [
            {"name": "x", "shape": [3, 4], "datatype": "FP32"}
            | {"parameters": {"binary_data_size": len(matrix)}}
        ],
        "outputs": [
            {"name": "predict", "parameters": {"binary_data": True}},
            {"name": "predict_proba", "parameters": {"binary_data": True}},
            {"name": "classes"},
        ],
    }
    content, headers = _binary_body(header, matrix)
    response = await iris_client.post("/v2/models/iris/infer", content=content, headers=headers)
    assert response.status_code == 200, response.text
    split = int(response.headers[HEADER])
    answer, rest = json.loads(response.content[:split]), response.content[split:]
    predict, proba, classes = answer["outputs"]
    assert classes["data"] == ["setosa", "versicolor", "virginica"]
    labels_size = predict["parameters"]["binary_data_size"]
    assert "data" not in predict
    assert rest[:labels_size] == _bytes_tensor(_expected(iris_bundle))
    floats = np.frombuffer(rest[labels_size:], dtype="<f8").reshape(proba["shape"])
    expected = iris_bundle.model.predict_proba(pd.DataFrame(ROWS, columns=FEATURES))
    assert floats == pytest.approx(expected, rel=1e-6)


async def test_binary_per_column_inputs_mix_with_json_ones(
    iris_client: httpx.AsyncClient, iris_bundle: ModelBundle
) -> None:
    inputs = _columns()
    raw = np.asarray(inputs[0].pop("data"), dtype="<f8").tobytes()
    inputs[0]["parameters"] = {"binary_data_size": len(raw)}
    content, headers = _binary_body(
        {"inputs": inputs, "parameters": {"binary_data_output": False}}, raw
    )
    response = await iris_client.post("/v2/models/iris/infer", content=content, headers=headers)
    assert response.headers["content-type"] == "application/json"
    assert HEADER.lower() not in response.headers
    assert response.json()["outputs"][0]["data"] == _expected(iris_bundle)


def _one_input(datatype: str, size: int) -> dict[str, Any]:
    tensor = {"name": "x", "shape": [1, 4], "datatype": datatype}
    return {"inputs": [tensor | {"parameters": {"binary_data_size": size}}]}


@pytest.mark.parametrize(
    ("header", "rest", "length", "expected"),
    [
        (_one_input("FP32", 16), b"\0" * 12, None, "binary_data_size must be a byte count"),
        (_one_input("FP32", 8), b"\0" * 16, None, "8 bytes after the JSON header"),
        (_one_input("FP32", 14), b"\0" * 14, None, "not a whole number of FP32 values"),
        (_one_input("BF16", 8), b"\0" * 8, None, "cannot be sent as binary data"),
        (_one_input("FP32", -1), b"", None, "binary_data_size must be a byte count"),
        (_one_input("BYTES", 3), b"\5\0\0", None, "a BYTES element's length is cut short"),
        (_one_input("BYTES", 6), b"\5\0\0\0ab", None, "runs past its data"),
        (_one_input("BYTES", 5), b"\1\0\0\0\xff", None, "is not UTF-8"),
        (_one_input("FP32", 0), b"", "999999", "Inference-Header-Content-Length must be"),
        (_one_input("FP32", 0), b"", "-1", "Inference-Header-Content-Length must be"),
        ({"inputs": []}, b"\xff", "5", "the body is not valid JSON"),
    ],
)
async def test_malformed_binary_requests_are_400(
    iris_client: httpx.AsyncClient,
    header: dict[str, Any],
    rest: bytes,
    length: str | None,
    expected: str,
) -> None:
    content, headers = _binary_body(header, rest)
    if length is not None:
        headers = {HEADER: length}
    response = await iris_client.post("/v2/models/iris/infer", content=content, headers=headers)
    assert response.status_code == 400
    assert expected in response.json()["error"]


async def test_server_metadata_lists_the_binary_extension(iris_client: httpx.AsyncClient) -> None:
    assert (await iris_client.get("/v2")).json()["extensions"] == ["binary_tensor_data"]
