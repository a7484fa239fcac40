"""Shadow mirroring on real servers over loopback: production answers alone, the shadow gets
a copy of each request, and the agreement lands in production's /metrics."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from modelpipe_contract.result import ExitCode
from modelpipe_contract.runconfig import RunConfig
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from modelpipe_trainer import training
from modelpipe_trainer.serving.agreement import Compared, compare, shadow_request
from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.loading import Runtime, load_served
from modelpipe_trainer.serving.mirror import QUEUE_SIZE, Mirror, Target, parse_target
from modelpipe_trainer.serving.predictor import ServedModel
from modelpipe_trainer.serving.server import ServeOptions, run_server

ROWS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"sepal_length": 6.0, "sepal_width": 2.7, "petal_length": 4.1, "petal_width": 1.3},
    {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3},
]


Loopback = Callable[[Starlette], AbstractContextManager[tuple[str, int]]]


@contextmanager
def _serving(served: ServedModel, on_loopback: Loopback) -> Iterator[Target]:
    """``served`` behind uvicorn on a loopback port, as a mirror's target."""
    with on_loopback(create_app(served, name="iris")) as (host, port):
        yield Target(host, port)


@pytest.fixture(scope="module")
def flipped_model(tmp_path_factory: pytest.TempPathFactory, iris: pd.DataFrame) -> Path:
    """An iris model v2 trained on corrupted labels (setosa and virginica swapped)."""
    root = tmp_path_factory.mktemp("flipped")
    frame = iris.copy()
    frame["species"] = frame["species"].replace({"setosa": "virginica", "virginica": "setosa"})
    frame.to_csv(root / "iris.csv", index=False)
    document: dict[str, Any] = {
        "pipeline": "iris",
        "modelVersion": "v2",
        "codeRevision": "abc123",
        "task": "classification",
        "dataset": {"uri": str(root / "iris.csv"), "version": "2024-06"},
        "schema": {
            "target": "species",
            "features": [{"name": n, "min": 0, "max": 10} for n in ROWS[0]],
        },
        "estimator": {"className": "sklearn.linear_model.LogisticRegression"},
        "seed": 7,
        "artifactsDir": str(root / "artifacts"),
        "terminationMessagePath": str(root / "termination-log"),
    }
    result = training.train(RunConfig.model_validate(document))
    assert result.artifact_path is not None, result.message
    return Path(result.artifact_path)


def _counters(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("modelpipe_shadow_") and s.name.endswith("_total")
    }


async def _settled(client: httpx.AsyncClient, copies: int) -> dict[Any, float]:
    """Production's shadow counters once ``copies`` copies have an outcome (bounded wait)."""
    deadline = time.monotonic() + 20
    while True:
        counters = _counters((await client.get("/metrics")).text)
        done = sum(v for (n, _), v in counters.items() if n == "modelpipe_shadow_requests_total")
        if done >= copies or time.monotonic() > deadline:
            return counters
        await asyncio.sleep(0.05)


@contextmanager
def _production(served: ServedModel, shadow: Target) -> Iterator[httpx.AsyncClient]:
    app = create_app(served, name="iris", shadow=shadow)
    try:
        yield httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p")
    finally:
        app.state.mirror.close()


def _v2(rows: list[dict[str, float]]) -> dict[str, Any]:
    inputs = [
        {"name": n, "shape": [len(rows)], "datatype": "FP64", "data": [r[n] for r in rows]}
        for n in rows[0]
    ]
    return {"inputs": inputs, "outputs": [{"name": "predict"}]}


async def test_the_same_model_in_shadow_agrees_on_every_row(
    iris_served: ServedModel, on_loopback: Loopback
) -> None:
    with _serving(iris_served, on_loopback) as target, _production(iris_served, target) as client:
        answer = await client.post("/predict", json={"instances": ROWS})
        assert answer.json()["predictions"] == ["setosa", "versicolor", "virginica"]
        v2 = await client.post("/v2/models/iris/infer", json=_v2(ROWS[:2]))
        assert v2.json()["model_version"] == "v1"  # production answers, never the shadow
        counters = await _settled(client, 2)
    assert counters[("modelpipe_shadow_requests_total", (("outcome", "answered"),))] == 2
    agreed = (("agreement", "agreed"), ("shadow_version", "v1"))
    disagreed = (("agreement", "disagreed"), ("shadow_version", "v1"))
    assert counters[("modelpipe_shadow_rows_total", agreed)] == 5
    assert counters[("modelpipe_shadow_rows_total", disagreed)] == 0


async def test_a_model_trained_on_corrupted_labels_disagrees(
    iris_served: ServedModel, flipped_model: Path, on_loopback: Loopback
) -> None:
    flipped = load_served(flipped_model, runtime=Runtime.SKLEARN)
    with _serving(flipped, on_loopback) as target, _production(iris_served, target) as client:
        answer = await client.post("/predict", json={"instances": ROWS})
        assert answer.json()["predictions"] == ["setosa", "versicolor", "virginica"]
        counters = await _settled(client, 1)
    disagreed = (("agreement", "disagreed"), ("shadow_version", "v2"))
    assert counters[("modelpipe_shadow_rows_total", disagreed)] == 2  # setosa, virginica


async def test_an_unreachable_shadow_costs_production_nothing(iris_served: ServedModel) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: every copy fails or is dropped while resting
    with _production(iris_served, Target("127.0.0.1", port)) as client:
        for _ in range(5):
            answer = await client.post("/predict", json={"instances": ROWS})
            assert answer.status_code == 200
        counters = await _settled(client, 5)
    failed = counters[("modelpipe_shadow_requests_total", (("outcome", "failed"),))]
    dropped = counters[("modelpipe_shadow_requests_total", (("outcome", "dropped"),))]
    assert failed >= 1 and failed + dropped == 5


def test_a_full_queue_drops_copies_without_waiting(iris_served: ServedModel) -> None:
    silent = socket.socket()  # accepts connections (the backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    registry = CollectorRegistry()
    try:
        mirror = Mirror(
            Target("127.0.0.1", silent.getsockname()[1]), model="iris", registry=registry
        )
        columns = {n: np.array([ROWS[0][n]]) for n in ROWS[0]}
        start = time.perf_counter()
        for _ in range(QUEUE_SIZE + 20):
            mirror.offer(columns, np.array(["setosa"]))
        assert time.perf_counter() - start < 0.5  # never waits on the shadow
        mirror.close()
        dropped = registry.get_sample_value(
            "modelpipe_shadow_requests_total", {"outcome": "dropped"}
        )
        assert dropped is not None and dropped >= 19
    finally:
        silent.close()


def test_compare_classes_and_regression_within_tolerance() -> None:
    labels = np.array(["a", "b", "c"], dtype=object)
    answer = {"model_version": "v2", "outputs": [{"name": "predict", "data": ["a", "x", "c"]}]}
    assert compare(labels, answer) == Compared(rows=3, agreed=2, version="v2")
    values = np.array([100.0, 100.0, 0.0])
    close = {"outputs": [{"name": "predict", "data": [104.0, 106.0, 0.0]}]}
    assert compare(values, close) == Compared(rows=3, agreed=2, version="")
    short = {"outputs": [{"name": "predict", "data": [100.0]}]}
    assert compare(values, short) == Compared(rows=3, agreed=0, version="")
    assert isinstance(compare(values, {"error": "x"}), str)


def test_the_shadow_request_carries_nulls_and_text() -> None:
    columns = {"x": np.array([1.0, np.nan]), "c": np.array(["a", np.nan], dtype=object)}
    body = shadow_request(columns)
    assert body == (
        b'{"inputs":[{"name":"x","shape":[2],"datatype":"FP64","data":[1.0,null]},'
        b'{"name":"c","shape":[2],"datatype":"BYTES","data":["a",null]}],'
        b'"outputs":[{"name":"predict"}]}'
    )


@pytest.mark.parametrize(
    "text", ["http://evil:80", "iris-shadow", "iris-shadow:0", "Iris:80", "a:99999", "a b:1"]
)
def test_a_target_is_a_service_name_and_port(text: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_target(text)
    assert parse_target("iris-shadow:8080") == Target("iris-shadow", 8080)


def test_serve_refuses_a_bad_target(iris_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    options = ServeOptions(
        model_dir=iris_model, host="127.0.0.1", port=1, shadow_target="http://x/"
    )
    assert run_server(options) == ExitCode.INVALID_CONFIG
    assert "shadow target must be host:port" in capsys.readouterr().err
