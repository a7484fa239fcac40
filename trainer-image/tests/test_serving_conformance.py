"""Open Inference Protocol V2 conformance, judged by foreign code: tritonclient[http] talks to
a real server on loopback, and kserve's pydantic V2 types validate every answer.

kserve is installed only for ``kserve/protocol/rest/v2_datamodels.py`` (pydantic +
orjson; see ``[tool.uv] dependency-metadata``), loaded by path because the package's
``__init__`` starts a whole model server.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from starlette.applications import Starlette
from tritonclient.utils import InferenceServerException

from modelpipe_trainer.bundle import ModelBundle
from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.predictor import ServedModel

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.0, 2.7, 4.1, 1.3], [6.7, 3.0, 5.2, 2.3]])


@pytest.fixture(scope="module")
def kserve_types() -> ModuleType:
    spec = importlib.machinery.PathFinder.find_spec("kserve")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "protocol/rest/v2_datamodels.py"
    loaded = importlib.util.spec_from_file_location("kserve_v2_datamodels", path)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def base_url(
    iris_served: ServedModel,
    on_loopback: Callable[[Starlette], AbstractContextManager[tuple[str, int]]],
) -> Iterator[str]:
    """The iris model served by uvicorn on a loopback port, in a thread."""
    with on_loopback(create_app(iris_served, name="iris")) as (host, port):
        yield f"{host}:{port}"


@pytest.fixture
def client(base_url: str) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(base_url, network_timeout=30) as c:
        yield c


def _matrix_input(binary: bool) -> triton.InferInput:
    tensor = triton.InferInput("input-0", list(ROWS.shape), "FP32")
    tensor.set_data_from_numpy(ROWS.astype(np.float32), binary_data=binary)
    return tensor


def _expected(bundle: ModelBundle) -> tuple[list[str], np.ndarray]:
    frame = pd.DataFrame(ROWS.astype(np.float32).astype(np.float64), columns=FEATURES)
    return list(bundle.model.predict(frame)), bundle.model.predict_proba(frame)


def test_health_and_readiness_through_tritonclient(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.is_model_ready("iris", model_version="v1")
    assert not client.is_model_ready("iris", model_version="v9")
    assert not client.is_model_ready("wine")


def test_metadata_through_tritonclient(
    client: triton.InferenceServerClient, kserve_types: ModuleType
) -> None:
    server = client.get_server_metadata()
    kserve_types.ServerMetadataResponse.model_validate(server)
    assert "binary_tensor_data" in server["extensions"]
    for version in ("", "v1"):
        meta = client.get_model_metadata("iris", model_version=version)
        kserve_types.ModelMetadataResponse.model_validate(meta)
        assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba", "classes"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_infer_every_output_by_default(
    client: triton.InferenceServerClient, iris_bundle: ModelBundle, binary: bool
) -> None:
    """tritonclient's defaults: binary input data, and binary outputs when none are named."""
    result = client.infer("iris", [_matrix_input(binary)], model_version="v1")
    labels, proba = _expected(iris_bundle)
    assert [_text(v) for v in result.as_numpy("predict")] == labels
    # The ONNX path computes in float32: within the trainer's verification tolerance.
    assert result.as_numpy("predict_proba") == pytest.approx(proba, rel=1e-4, abs=1e-5)
    assert [_text(v) for v in result.as_numpy("classes")] == ["setosa", "versicolor", "virginica"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_infer_named_outputs_validates_as_kserve_types(
    client: triton.InferenceServerClient,
    iris_bundle: ModelBundle,
    kserve_types: ModuleType,
    binary: bool,
) -> None:
    inputs = []
    for i, name in enumerate(FEATURES):
        column = triton.InferInput(name, [len(ROWS)], "FP64")
        column.set_data_from_numpy(ROWS[:, i].copy(), binary_data=binary)
        inputs.append(column)
    outputs = [triton.InferRequestedOutput("predict", binary_data=binary)]
    result = client.infer("iris", inputs, outputs=outputs, request_id="req-7")
    answer: dict[str, Any] = result.get_response()
    if not binary:  # a binary output has no "data" (the extension says so); kserve's type needs it
        kserve_types.InferenceResponse.model_validate(answer)
    assert answer["id"] == "req-7"
    assert [o["name"] for o in answer["outputs"]] == ["predict"]
    assert [_text(v) for v in result.as_numpy("predict")] == _expected(iris_bundle)[0]


def test_json_requests_and_answers_validate_as_kserve_types(
    base_url: str, kserve_types: ModuleType
) -> None:
    body = {"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": ROWS.tolist()}]}
    kserve_types.InferenceRequest.model_validate(body)
    with httpx.Client(base_url=f"http://{base_url}") as http:
        answer = http.post("/v2/models/iris/infer", json=body).json()
        kserve_types.InferenceResponse.model_validate(answer)
        kserve_types.ServerLiveResponse.model_validate(http.get("/v2/health/live").json())
        kserve_types.ServerReadyResponse.model_validate(http.get("/v2/health/ready").json())
        ready = http.get("/v2/models/iris/versions/v1/ready").json()
        kserve_types.ModelReadyResponse.model_validate(ready)


def test_errors_reach_tritonclient_as_messages(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException, match="unknown model 'wine'"):
        client.get_model_metadata("wine")
    wrong = triton.InferInput("input-0", [3, 3], "FP32")
    wrong.set_data_from_numpy(ROWS[:, :3].astype(np.float32))
    with pytest.raises(InferenceServerException, match=r"must have shape \[N, 4\]"):
        client.infer("iris", [wrong])


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
