"""The ASGI app: Open Inference Protocol (V2) routes, ``/predict`` and ``/metrics``.

Predictions run in a worker thread so the event loop keeps answering health
probes while a large request is being scored; scikit-learn's ``predict`` only
reads the fitted model, so concurrent calls are safe.
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelpipe_trainer.bundle import ModelBundle
from modelpipe_trainer.config import FeatureKind
from modelpipe_trainer.serving.payloads import (
    BadRequestError,
    frame_from_records,
    frame_from_v2,
    output_tensor,
    v2_datatype,
)
from modelpipe_trainer.serving.telemetry import Telemetry

MAX_BODY_BYTES = 16 << 20
log = logging.getLogger(__name__)


class _Service:
    """The handlers, closed over one loaded model."""

    def __init__(self, bundle: ModelBundle, *, name: str, telemetry: Telemetry) -> None:
        self.bundle = bundle
        self.name = name
        self.version = bundle.lineage.model_version
        self.telemetry = telemetry

    async def live(self, request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(self, request: Request) -> Response:
        # The model is loaded before the server binds, so serving at all means ready.
        return JSONResponse({"ready": True})

    async def server_metadata(self, request: Request) -> Response:
        version = metadata.version("modelpipe-trainer")
        return JSONResponse({"name": "modelpipe-trainer", "version": version, "extensions": []})

    async def model_metadata(self, request: Request) -> Response:
        if (missing := self._unknown_model(request)) is not None:
            return missing
        return JSONResponse(self._metadata())

    async def model_ready(self, request: Request) -> Response:
        if (missing := self._unknown_model(request)) is not None:
            return missing
        return JSONResponse({"name": self.name, "ready": True})

    async def infer(self, request: Request) -> Response:
        if (missing := self._unknown_model(request)) is not None:
            return missing
        try:
            body = await _json_body(request)
            frame, outputs = frame_from_v2(body, self.bundle.schema)
            tensors = await run_in_threadpool(self._v2_outputs, frame, outputs)
        except BadRequestError as exc:
            return _error(400, str(exc))
        answer: dict[str, Any] = {
            "model_name": self.name,
            "model_version": self.version,
            "outputs": tensors,
        }
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            answer["id"] = body["id"]
        return JSONResponse(answer)

    async def predict(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            frame = frame_from_records(body, self.bundle.schema)
        except BadRequestError as exc:
            return _error(400, str(exc))
        predicted = await run_in_threadpool(self._predict, frame)
        return JSONResponse(
            {
                "predictions": predicted.tolist(),
                "model_name": self.name,
                "model_version": self.version,
            }
        )

    async def metrics(self, request: Request) -> Response:
        return Response(self.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    def _predict(self, frame: pd.DataFrame) -> np.ndarray:
        predicted = np.asarray(self.bundle.model.predict(frame))
        self.telemetry.rows.inc(len(frame))
        return predicted

    def _v2_outputs(self, frame: pd.DataFrame, outputs: list[str]) -> list[dict[str, Any]]:
        tensors = []
        for name in outputs:
            if name == "predict":
                tensors.append(output_tensor(name, self._predict(frame)))
                continue
            if not hasattr(self.bundle.model, "predict_proba"):
                raise BadRequestError("outputs: this model has no predict_proba")
            proba = np.asarray(self.bundle.model.predict_proba(frame))
            tensors.append(output_tensor(name, proba, classes=self.bundle.schema.classes))
        return tensors

    def _unknown_model(self, request: Request) -> Response | None:
        name = request.path_params["name"]
        version = request.path_params.get("version")
        if name != self.name:
            return _error(404, f"unknown model {name!r}; this server serves {self.name!r}")
        if version is not None and version != self.version:
            return _error(404, f"unknown version {version!r} of {name!r}; serving {self.version!r}")
        return None

    def _metadata(self) -> dict[str, Any]:
        schema = self.bundle.schema
        inputs = [
            {
                "name": f.name,
                "datatype": "FP64" if f.kind is FeatureKind.NUMERIC else "BYTES",
                "shape": [-1],
            }
            for f in schema.features
        ]
        # Regression predicts floats; a classifier predicts its labels' type.
        labels = np.asarray(schema.classes) if schema.classes else np.zeros(0)
        outputs = [{"name": "predict", "datatype": v2_datatype(labels.dtype), "shape": [-1]}]
        if hasattr(self.bundle.model, "predict_proba"):
            outputs.append(
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(schema.classes)]}
            )
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": "sklearn",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"task": schema.task.value, "classes": schema.classes},
            "lineage": self.bundle.lineage.model_dump(mode="json", by_alias=True),
        }


def create_app(bundle: ModelBundle, *, name: str) -> Starlette:
    """The server for one loaded model, published as ``name``."""
    lineage = bundle.lineage
    telemetry = Telemetry(model=name, version=lineage.model_version, pipeline=lineage.pipeline)
    service = _Service(bundle, name=name, telemetry=telemetry)
    timed = telemetry.instrument
    routes = [
        Route("/v2/health/live", timed("live", service.live)),
        Route("/v2/health/ready", timed("ready", service.ready)),
        Route("/v2", timed("server_metadata", service.server_metadata)),
        Route("/v2/models/{name}", timed("model_metadata", service.model_metadata)),
        Route(
            "/v2/models/{name}/versions/{version}", timed("model_metadata", service.model_metadata)
        ),
        Route("/v2/models/{name}/ready", timed("model_ready", service.model_ready)),
        Route("/v2/models/{name}/infer", timed("infer", service.infer), methods=["POST"]),
        Route(
            "/v2/models/{name}/versions/{version}/infer",
            timed("infer", service.infer),
            methods=["POST"],
        ),
        Route("/predict", timed("predict", service.predict), methods=["POST"]),
        Route("/metrics", service.metrics),
    ]
    return Starlette(routes=routes)


async def _json_body(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequestError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadRequestError(f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"the body is not valid JSON: {exc}") from None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
