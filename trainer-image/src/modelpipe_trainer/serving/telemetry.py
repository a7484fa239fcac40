"""Prometheus metrics for the server, in a registry of its own (one per app, test-friendly)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]

# Buckets from 0.1 ms: the ONNX path answers a one-row request in about half a millisecond
# (benchmarks/trainer/bench_serving_onnx.py reads its p50 at the server from these).
_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


class Telemetry:
    def __init__(self, *, model: str, version: str, pipeline: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelpipe_requests",
            "Requests answered, by endpoint and HTTP status code.",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelpipe_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter("modelpipe_predicted_rows", "Rows predicted.", registry=self.registry)
        info = Gauge(
            "modelpipe_model_info",
            "The model being served; always 1.",
            ["model", "version", "pipeline"],
            registry=self.registry,
        )
        info.labels(model=model, version=version, pipeline=pipeline).set(1)

    def instrument(self, endpoint: str, handler: Handler) -> Handler:
        """Wrap a handler so its count and latency are recorded under ``endpoint``."""

        async def timed(request: Request) -> Response:
            start = time.perf_counter()
            code = "500"  # unless the handler returns: an exception becomes a 500 upstream
            try:
                response = await handler(request)
                code = str(response.status_code)
                return response
            finally:
                self.latency.labels(endpoint=endpoint).observe(time.perf_counter() - start)
                self.requests.labels(endpoint=endpoint, code=code).inc()

        return timed

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
