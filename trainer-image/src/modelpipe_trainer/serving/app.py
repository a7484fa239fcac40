"""The ASGI app: Open Inference Protocol (V2) routes, ``/predict`` and ``/metrics``.

The event loop only reads bodies (capped while reading, see :mod:`.intake`) and
answers probes; decoding, validation, prediction and encoding run in worker
threads, so a large or hostile request never stalls ``/v2/health/*``.
Both runtimes' predict calls only read the model (an onnxruntime session's ``run``
is thread-safe), so concurrent calls are safe.
Every error, including unknown routes (404) and methods (405), is ``{"error": ...}``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

import numpy as np
from modelpipe_contract.runconfig import FeatureKind
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelpipe_trainer.serving.intake import Intake, Limits
from modelpipe_trainer.serving.mirror import Mirror, Target
from modelpipe_trainer.serving.payloads import (
    BadRequestError,
    Columns,
    columns_from_records,
    columns_from_v2,
    requested_outputs,
    v2_datatype,
)
from modelpipe_trainer.serving.predictor import ServedModel
from modelpipe_trainer.serving.runfiles import RunFiles
from modelpipe_trainer.serving.telemetry import Telemetry
from modelpipe_trainer.serving.wire import HEADER_LENGTH, encode_answer, parse_json, parse_request

EXTENSIONS = ["binary_tensor_data"]
log = logging.getLogger(__name__)


class _Service:
    """The handlers, closed over one loaded model."""

    def __init__(
        self,
        bundle: ServedModel,
        *,
        name: str,
        telemetry: Telemetry,
        intake: Intake,
        mirror: Mirror | None,
    ) -> None:
        self.bundle = bundle
        self.mirror = mirror
        self.predictor = bundle.predictor
        self.name = name
        self.version = bundle.lineage.model_version
        self.telemetry = telemetry
        self.intake = intake
        self.classes = np.asarray(bundle.schema.classes)
        self.outputs = ["predict"]
        if self.predictor.has_proba:
            self.outputs.append("predict_proba")
        if bundle.schema.classes:
            self.outputs.append("classes")

    async def live(self, request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(self, request: Request) -> Response:
        # The model is loaded before the server binds, so serving at all means ready.
        return JSONResponse({"ready": True})

    async def server_metadata(self, request: Request) -> Response:
        version = metadata.version("modelpipe-trainer")
        return JSONResponse(
            {"name": "modelpipe-trainer", "version": version, "extensions": EXTENSIONS}
        )

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
        header_length = request.headers.get(HEADER_LENGTH)
        try:
            async with self.intake.body(request) as body:
                content, headers = await self.intake.run(
                    lambda: self._answer_v2(body, header_length)
                )
        except BadRequestError as exc:
            return _error(exc.status, str(exc))
        return Response(content, headers=headers)

    async def predict(self, request: Request) -> Response:
        try:
            async with self.intake.body(request) as body:
                content = await self.intake.run(lambda: self._answer_records(body))
        except BadRequestError as exc:
            return _error(exc.status, str(exc))
        return Response(content, media_type="application/json")

    async def metrics(self, request: Request) -> Response:
        return Response(self.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    def _answer_v2(self, body: bytes, header_length: str | None) -> tuple[bytes, dict[str, str]]:
        with _malformed_is_400():
            with self.intake.decoding:
                request = parse_request(body, header_length=header_length)
            columns = columns_from_v2(request, self.bundle.schema)
            wanted = requested_outputs(request, self.outputs)
            tensors = [(w, *self._output(w.name, columns)) for w in wanted]
        request_id = request.get("id")
        answer = {
            "model_name": self.name,
            "model_version": self.version,
            "id": request_id if isinstance(request_id, str) else uuid.uuid4().hex,
        }
        return encode_answer(answer, tensors)

    def _answer_records(self, body: bytes) -> bytes:
        with _malformed_is_400():
            with self.intake.decoding:
                request = parse_json(body)
            columns = columns_from_records(request, self.bundle.schema)
        answer = {
            "predictions": self._predict(columns).tolist(),
            "model_name": self.name,
            "model_version": self.version,
        }
        return json.dumps(answer, separators=(",", ":")).encode()

    def _predict(self, columns: Columns) -> np.ndarray:
        predicted = self.predictor.predict(columns)
        self.telemetry.rows.inc(len(predicted))
        if self.mirror is not None:  # a copy for the shadow, after our own answer is made
            self.mirror.offer(columns, predicted)
        return predicted

    def _output(self, name: str, columns: Columns) -> tuple[dict[str, Any], np.ndarray]:
        if name == "predict":
            values = self._predict(columns)
        elif name == "predict_proba":
            values = self.predictor.predict_proba(columns)
        else:  # the labels of predict_proba's columns
            values = self.classes
        header = {"name": name, "shape": list(values.shape), "datatype": v2_datatype(values.dtype)}
        return header, values

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
        labels = v2_datatype(self.classes.dtype) if schema.classes else "FP64"
        shapes = {
            "predict": [-1],
            "predict_proba": [-1, len(self.classes)],
            "classes": [len(self.classes)],
        }
        types = {"predict": labels, "predict_proba": "FP64", "classes": labels}
        outputs = [{"name": n, "datatype": types[n], "shape": shapes[n]} for n in self.outputs]
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": self.predictor.platform,
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"task": schema.task.value},
            "lineage": self.bundle.lineage.model_dump(mode="json", by_alias=True),
        }


@contextmanager
def _malformed_is_400() -> Iterator[None]:
    """Decoding or validating a pathological body (deep nesting) is the client's error."""
    try:
        yield
    except RecursionError:
        raise BadRequestError("the body is nested too deeply") from None


def create_app(
    bundle: ServedModel,
    *,
    name: str,
    limits: Limits | None = None,
    shadow: Target | None = None,
) -> Starlette:
    """The server for one loaded model, published as ``name``; with ``shadow``, a copy of
    each request it predicts goes to that target (:mod:`.mirror`)."""
    lineage = bundle.lineage
    telemetry = Telemetry(model=name, version=lineage.model_version, pipeline=lineage.pipeline)
    mirror = Mirror(shadow, model=name, registry=telemetry.registry) if shadow else None
    service = _Service(
        bundle,
        name=name,
        telemetry=telemetry,
        intake=Intake(limits or Limits()),
        mirror=mirror,
    )
    timed = telemetry.instrument
    files = RunFiles(bundle.path)
    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    routes = [
        Route("/v2/health/live", timed("live", service.live)),
        Route("/v2/health/ready", timed("ready", service.ready)),
        Route("/v2", timed("server_metadata", service.server_metadata)),
        Route("/predict", timed("predict", service.predict), methods=["POST"]),
        Route("/metrics", service.metrics),
        Route("/report", files.report),
        Route("/runs/{version}/{file}", files.run_file),
    ]
    for prefix in (model, versioned):
        routes += [
            Route(prefix, timed("model_metadata", service.model_metadata)),
            Route(f"{prefix}/ready", timed("model_ready", service.model_ready)),
            Route(f"{prefix}/infer", timed("infer", service.infer), methods=["POST"]),
        ]
    handlers = {HTTPException: _http_error, Exception: _internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.mirror = mirror
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("Failed to answer %s %s", request.method, request.url.path, exc_info=exc)
    return _error(500, f"internal error: {type(exc).__name__}")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
