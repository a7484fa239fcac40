"""The server's HTTP surface, in-process: V2, /predict, validation errors, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from modelpipe_contract.runconfig import RunConfig

from modelpipe_trainer.bundle import ModelBundle, load_bundle
from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.loading import Runtime, load_served

ROWS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"sepal_length": 6.0, "sepal_width": 2.7, "petal_length": 4.1, "petal_width": 1.3},
    {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3},
]


def _v2_inputs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"name": n, "shape": [len(rows)], "datatype": "FP64", "data": [r[n] for r in rows]}
        for n in rows[0]
    ]


def _expected(bundle: ModelBundle, rows: list[dict[str, Any]]) -> list[str]:
    return list(bundle.model.predict(pd.DataFrame(rows)))


async def test_health(iris_client: httpx.AsyncClient) -> None:
    assert (await iris_client.get("/v2/health/live")).json() == {"live": True}
    ready = await iris_client.get("/v2/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})
    assert (await iris_client.get("/v2/models/iris/ready")).json()["ready"] is True


async def test_metadata_reports_version_and_lineage(iris_client: httpx.AsyncClient) -> None:
    meta = (await iris_client.get("/v2/models/iris")).json()
    assert meta["versions"] == ["v1"]
    assert meta["lineage"]["modelVersion"] == "v1"
    assert meta["lineage"]["codeRevision"] == "abc123"
    assert len(meta["lineage"]["dataset"]["sha256"]) == 64
    assert [i["name"] for i in meta["inputs"]] == list(ROWS[0])
    assert meta["parameters"] == {"task": "classification"}
    assert [(o["name"], o["datatype"], o["shape"]) for o in meta["outputs"]] == [
        ("predict", "BYTES", [-1]),
        ("predict_proba", "FP64", [-1, 3]),
        ("classes", "BYTES", [3]),
    ]
    assert (await iris_client.get("/v2/models/iris/versions/v1")).status_code == 200
    assert (await iris_client.get("/v2")).json()["name"] == "modelpipe-trainer"


async def test_v2_infer_predicts_correctly(
    iris_client: httpx.AsyncClient, iris_bundle: ModelBundle
) -> None:
    body = {"id": "req-1", "inputs": _v2_inputs(ROWS), "outputs": [{"name": "predict"}]}
    answer = (await iris_client.post("/v2/models/iris/infer", json=body)).json()
    assert answer["id"] == "req-1"
    assert answer["model_version"] == "v1"
    (output,) = answer["outputs"]
    assert output == {
        "name": "predict",
        "shape": [3],
        "datatype": "BYTES",
        "data": _expected(iris_bundle, ROWS),
    }
    assert output["data"] == ["setosa", "versicolor", "virginica"]


async def test_v2_infer_probabilities(
    iris_client: httpx.AsyncClient, iris_bundle: ModelBundle
) -> None:
    inputs = _v2_inputs(ROWS)
    inputs[0]["shape"] = [3, 1]
    inputs[0]["data"] = [[v] for v in inputs[0]["data"]]
    body = {"inputs": inputs, "outputs": [{"name": "predict_proba"}]}
    response = await iris_client.post("/v2/models/iris/versions/v1/infer", json=body)
    (output,) = response.json()["outputs"]
    assert output["shape"] == [3, 3]
    assert "parameters" not in output
    expected = iris_bundle.model.predict_proba(pd.DataFrame(ROWS)).ravel().tolist()
    # The ONNX path computes in float32: within the trainer's verification tolerance.
    assert output["data"] == pytest.approx(expected, rel=1e-4, abs=1e-5)


async def test_predict_records(iris_client: httpx.AsyncClient, iris_bundle: ModelBundle) -> None:
    answer = (await iris_client.post("/predict", json={"instances": ROWS})).json()
    assert answer["predictions"] == _expected(iris_bundle, ROWS)
    assert answer["model_version"] == "v1"


@pytest.mark.parametrize(
    ("instances", "expected"),
    [
        ([{**ROWS[0], "petal_width": "wide"}], "instances[0].petal_width must be a finite number"),
        (
            [ROWS[0], {k: v for k, v in ROWS[1].items() if k != "sepal_width"}],
            "instances[1].sepal_width is missing",
        ),
        ([{**ROWS[0], "petal_length": None}], "instances[0].petal_length must not be null"),
        (
            [{**ROWS[0], "petal_length": 11}],
            "instances[0].petal_length is 11.0, above the maximum 10.0",
        ),
        ([{**ROWS[0], "colour": "red"}], "instances[0]: unknown field 'colour'"),
        ([{**ROWS[0], "sepal_length": True}], "instances[0].sepal_length must be a finite number"),
        (
            [{**ROWS[0], "sepal_length": 10**400}],
            "instances[0].sepal_length must be a finite number",
        ),
        (["not a record"], "instances[0] must be an object"),
        ([], "instances is empty"),
    ],
)
async def test_predict_rejects_bad_rows_naming_the_field(
    iris_client: httpx.AsyncClient, instances: list[object], expected: str
) -> None:
    response = await iris_client.post("/predict", json={"instances": instances})
    assert response.status_code == 400
    assert expected in response.json()["error"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b["inputs"].pop(), "missing input 'petal_width'"),
        (lambda b: b["inputs"][0].update(name="colour"), "unknown input 'colour'"),
        (
            lambda b: b["inputs"][1].update(datatype="BYTES"),
            "inputs[sepal_width].datatype must be one of",
        ),
        (
            lambda b: b["inputs"][2].update(shape=[4]),
            "inputs[petal_length]: shape [4] does not match 3",
        ),
        (
            lambda b: b["inputs"][2].update(shape=[3, 2]),
            "inputs[petal_length].shape must be [N] or [N, 1]",
        ),
        (
            lambda b: b["inputs"][3]["data"].__setitem__(1, "x"),
            "inputs[petal_width].data[1] must be a finite number",
        ),
        (lambda b: b.update(outputs=[{"name": "explain"}]), "unknown output 'explain'"),
        (lambda b: b.pop("inputs"), "V2 inference request"),
    ],
)
async def test_v2_rejects_bad_tensors_naming_the_field(
    iris_client: httpx.AsyncClient, mutate: Callable[[dict[str, Any]], object], expected: str
) -> None:
    body: dict[str, Any] = {"inputs": _v2_inputs(ROWS)}
    mutate(body)
    response = await iris_client.post("/v2/models/iris/infer", json=body)
    assert response.status_code == 400
    assert expected in response.json()["error"]


async def test_invalid_json_is_400(iris_client: httpx.AsyncClient) -> None:
    response = await iris_client.post(
        "/predict", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


async def test_unknown_model_and_version_are_404(iris_client: httpx.AsyncClient) -> None:
    assert (await iris_client.get("/v2/models/wine")).status_code == 404
    assert (await iris_client.post("/v2/models/iris/versions/v9/infer", json={})).status_code == 404


async def test_concurrent_requests_all_answer(
    iris_client: httpx.AsyncClient, iris_bundle: ModelBundle
) -> None:
    bodies = [{"instances": [ROWS[i % 3]] * (1 + i)} for i in range(30)]
    responses = await asyncio.gather(*(iris_client.post("/predict", json=b) for b in bodies))
    for i, response in enumerate(responses):
        assert response.json()["predictions"] == [_expected(iris_bundle, [ROWS[i % 3]])[0]] * (
            1 + i
        )


async def test_metrics_count_requests_and_report_version(iris_client: httpx.AsyncClient) -> None:
    await iris_client.post("/predict", json={"instances": ROWS})
    await iris_client.post("/predict", json={"instances": []})
    text = (await iris_client.get("/metrics")).text
    assert 'modelpipe_requests_total{code="200",endpoint="predict"} 1.0' in text
    assert 'modelpipe_requests_total{code="400",endpoint="predict"} 1.0' in text
    assert 'modelpipe_request_duration_seconds_count{endpoint="predict"} 2.0' in text
    assert 'modelpipe_model_info{model="iris",pipeline="iris",version="v1"} 1.0' in text
    assert "modelpipe_predicted_rows_total 3.0" in text


@pytest.fixture(scope="module")
def diabetes_model(tmp_path_factory: pytest.TempPathFactory, diabetes: pd.DataFrame) -> Path:
    from modelpipe_trainer import training

    root = tmp_path_factory.mktemp("diabetes")
    diabetes.to_csv(root / "d.csv", index=False)
    features: list[dict[str, Any]] = [
        {"name": "bmi"},
        {"name": "sex", "kind": "categorical", "allowedValues": ["f", "m"], "maxNullFraction": 0.1},
    ]
    config = RunConfig.model_validate(
        {
            "pipeline": "diabetes",
            "modelVersion": "d1",
            "task": "regression",
            "dataset": {"uri": str(root / "d.csv"), "version": "1"},
            "schema": {"target": "target", "features": features},
            "estimator": {"className": "sklearn.linear_model.Ridge"},
            "artifactsDir": str(root / "artifacts"),
        }
    )
    result = training.train(config)
    assert result.artifact_path, result.message
    return Path(result.artifact_path)


@pytest.mark.parametrize("runtime", [Runtime.SKLEARN, Runtime.ONNX])
async def test_categorical_and_nullable_fields(diabetes_model: Path, runtime: Runtime) -> None:
    diabetes_bundle = load_bundle(diabetes_model)
    served = load_served(diabetes_model, runtime=runtime)
    transport = httpx.ASGITransport(app=create_app(served, name="diabetes"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        rows = [{"bmi": 30.1, "sex": "m"}, {"bmi": 22.0, "sex": None}]
        ok = await http.post("/predict", json={"instances": rows})
        frame = pd.DataFrame({"bmi": [30.1, 22.0], "sex": ["m", float("nan")]}).astype(
            {"sex": object}
        )
        assert ok.json()["predictions"] == pytest.approx(
            diabetes_bundle.model.predict(frame).tolist(), rel=1e-4
        )
        bad = await http.post("/predict", json={"instances": [{"bmi": 30.1, "sex": "x"}]})
        assert bad.status_code == 400
        assert "instances[0].sex is 'x', not one of ['f', 'm']" in bad.json()["error"]
        v2 = {"inputs": [
            {"name": "bmi", "shape": [1], "datatype": "FP32", "data": [30.1]},
            {"name": "sex", "shape": [1], "datatype": "BYTES", "data": ["m"]},
        ]}  # fmt: skip
        (out,) = (await http.post("/v2/models/diabetes/infer", json=v2)).json()["outputs"]
        assert out["datatype"] == "FP64"
        meta = (await http.get("/v2/models/diabetes")).json()
        assert meta["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
        assert out["data"] == pytest.approx(ok.json()["predictions"][:1])
