"""Fixtures for the trainer's tests: small real datasets, configs, a loopback HTTP server."""

from __future__ import annotations

import functools
import http.server
import io
import json
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from modelpipe_contract.result import Outcome
from modelpipe_contract.runconfig import RunConfig
from sklearn.datasets import load_diabetes, load_iris
from starlette.applications import Starlette

from modelpipe_trainer import cli, training
from modelpipe_trainer.bundle import ModelBundle, load_bundle
from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.loading import Runtime, load_served
from modelpipe_trainer.serving.payloads import columns_from_records, v2_datatype
from modelpipe_trainer.serving.predictor import ServedModel

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="session")
def iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    frame.columns = [*IRIS_FEATURES, "species"]
    frame["species"] = frame["species"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    return frame


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].map({1.0: "f", 2.0: "m"})
    return frame


@pytest.fixture
def iris_csv(tmp_path: Path, iris: pd.DataFrame) -> Path:
    path = tmp_path / "data" / "iris.csv"
    path.parent.mkdir()
    iris.to_csv(path, index=False)
    return path


def _iris_config(data: str | Path, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "pipeline": "iris",
        "modelVersion": "v1",
        "codeRevision": "abc123",
        "task": "classification",
        "dataset": {"uri": str(data), "version": "2024-06"},
        "schema": {
            "target": "species",
            "features": [{"name": n, "min": 0, "max": 10} for n in IRIS_FEATURES],
        },
        "estimator": {
            "className": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 500},
        },
        "seed": 7,
        "testSize": 0.2,
        "artifactsDir": str(tmp_path / "artifacts"),
        "terminationMessagePath": str(tmp_path / "termination-log"),
    }
    config.update(overrides)
    return config


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``make_config(data_uri, **overrides)``: an iris run config writing under tmp_path."""
    return functools.partial(_iris_config, tmp_path=tmp_path)


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory: pytest.TempPathFactory, iris: pd.DataFrame) -> Path:
    """A model directory trained once on iris and shared by the read-only tests."""
    root = tmp_path_factory.mktemp("iris-model")
    iris.to_csv(root / "iris.csv", index=False)
    config = RunConfig.model_validate(_iris_config(root / "iris.csv", root))
    result = training.train(config)
    assert result.outcome is Outcome.SUCCEEDED, result.message
    assert result.artifact_path is not None
    return Path(result.artifact_path)


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, dict[str, Any]]]:
    """Run ``modelpipe-trainer COMMAND`` in-process with the config in the env; (code, result)."""

    def run(command: str, config: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        monkeypatch.setenv("MODELPIPE_RUN_CONFIG", json.dumps(config))
        code = cli.main([command])
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 1, f"stdout must be exactly the result line, got {lines}"
        return code, json.loads(lines[0])

    return run


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on loopback: (directory, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _tamper(model_dir: Path, *, module: str, name: str) -> None:
    """Rewrite ``model.skops``'s top-level type to ``module.name``, as an attacker would."""
    path = model_dir / "model.skops"
    source = io.BytesIO(path.read_bytes())
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "schema.json":
                doc = json.loads(data)
                doc["__module__"], doc["__class__"] = module, name
                data = json.dumps(doc).encode()
            zout.writestr(item, data)


@pytest.fixture
def tampered_model(iris_model: Path, tmp_path: Path) -> Path:
    """A copy of the iris model directory whose skops file now names ``builtins.eval``."""
    copy = tmp_path / "tampered" / "v1"
    shutil.copytree(iris_model, copy)
    _tamper(copy, module="builtins", name="eval")
    return copy


@pytest.fixture(scope="session")
def iris_bundle(iris_model: Path) -> ModelBundle:
    """The iris model directory, loaded once for the serving tests."""
    return load_bundle(iris_model)


@pytest.fixture(scope="session", params=[Runtime.SKLEARN, Runtime.ONNX])
def iris_served(request: pytest.FixtureRequest, iris_model: Path) -> ServedModel:
    """The iris model loaded for serving, once per runtime: every serving test runs on both."""
    return load_served(iris_model, runtime=request.param)


RuntimeAnswers = Callable[[Path, list[dict[str, Any]], str], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="session")
def runtime_answers() -> RuntimeAnswers:
    """``(model_dir, rows, output)``: what the onnxruntime and the scikit-learn runtime
    answer for ``rows`` (their ``predict`` or ``predict_proba``), once both were found to
    give it the same V2 datatype."""

    def answers(
        model_dir: Path, rows: list[dict[str, Any]], output: str
    ) -> tuple[np.ndarray, np.ndarray]:
        onnx_served = load_served(model_dir, runtime=Runtime.ONNX)
        sklearn_served = load_served(model_dir, runtime=Runtime.SKLEARN)
        columns = columns_from_records({"instances": rows}, onnx_served.schema)
        got = np.asarray(getattr(onnx_served.predictor, output)(columns))
        expected = np.asarray(getattr(sklearn_served.predictor, output)(columns))
        assert v2_datatype(got.dtype) == v2_datatype(expected.dtype)
        return got, expected

    return answers


@pytest.fixture
async def iris_client(iris_served: ServedModel) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the model server serving the iris model as ``iris``."""
    transport = httpx.ASGITransport(app=create_app(iris_served, name="iris"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@contextmanager
def _on_loopback(app: Starlette) -> Iterator[tuple[str, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_config=None, http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the server did not start in 30 s"
    host, port = sock.getsockname()
    try:
        yield host, port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def on_loopback() -> Callable[[Starlette], AbstractContextManager[tuple[str, int]]]:
    """``with on_loopback(app) as (host, port)``: the app behind uvicorn on a loopback port,
    in a thread, stopped on leaving."""
    return _on_loopback
