"""Prometheus metrics of the operator (served by prometheus_client on --metrics-port).

Counters move from plan samples after the status write succeeded; the serving gauges
mirror ``status.production`` on every reconcile, so they are right after a restart too.
"""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram

from modelpipe.api.v1alpha1 import Production
from modelpipe.planning import GateFailure, Promotion, RunFinished, Sample

RUNS = Counter(
    "modelpipe_runs_total",
    "Finished training runs by verdict.",
    ["namespace", "pipeline", "verdict"],
)
GATE_FAILURES = Counter(
    "modelpipe_gate_failures_total",
    "Failed gate checks by metric.",
    ["namespace", "pipeline", "metric"],
)
RECONCILE_ERRORS = Counter(
    "modelpipe_reconcile_errors_total",
    "Reconciles that raised, by exception type.",
    ["namespace", "error"],
)
RECONCILES = Counter("modelpipe_reconciles_total", "Reconcile passes.", ["namespace"])
API_WRITES = Counter(
    "modelpipe_api_writes_total",
    "Writes the executor sent to the API, by kind.",
    ["namespace", "kind"],
)
API_RETRIES = Counter(
    "modelpipe_api_retries_total",
    "API answers (429, 5xx) the client sent again after a backoff, by method and status.",
    ["method", "status"],
)
NOTIFICATIONS = Counter(
    "modelpipe_notifications_total",
    "Webhook deliveries (spec.notify) that ended, by outcome (delivered or failed).",
    ["namespace", "outcome"],
)
NOTIFICATION_SENDS = Counter(
    "modelpipe_notification_sends_total",
    "HTTP sends to webhooks, retries included.",
    ["namespace"],
)
LEAD_TIME = Histogram(
    "modelpipe_input_to_production_seconds",
    "From the first sight of new inputs to their model serving.",
    ["namespace", "pipeline"],
    buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
)
SERVING_INFO = Gauge(
    "modelpipe_serving_model_info",
    "The model version serving per pipeline (value 1).",
    ["namespace", "pipeline", "model_version", "code_revision", "dataset_version"],
)
SERVING_METRIC = Gauge(
    "modelpipe_serving_model_metric",
    "Holdout metrics of the serving model.",
    ["namespace", "pipeline", "metric"],
)

_lock = threading.Lock()
_serving_labels: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def record_samples(namespace: str, pipeline: str, samples: tuple[Sample, ...]) -> None:
    for sample in samples:
        if isinstance(sample, RunFinished):
            RUNS.labels(namespace, pipeline, sample.verdict.value).inc()
        elif isinstance(sample, GateFailure):
            GATE_FAILURES.labels(namespace, pipeline, sample.metric).inc()
        elif isinstance(sample, Promotion) and sample.lead_time_seconds is not None:
            LEAD_TIME.labels(namespace, pipeline).observe(sample.lead_time_seconds)


def count_retry(method: str, status: int) -> None:
    API_RETRIES.labels(method, str(status)).inc()


def mirror_serving(namespace: str, pipeline: str, production: Production | None) -> None:
    """Point the per-pipeline serving gauges at ``production``, dropping the old label sets."""
    key = (namespace, pipeline)
    info: tuple[str, ...] = ()
    metric_names: tuple[str, ...] = ()
    if production is not None:
        info = (
            namespace,
            pipeline,
            production.model_version,
            production.code_revision or "",
            production.dataset_version or "",
        )
        metric_names = tuple(sorted(production.metrics))
    with _lock:
        old_info, old_metrics = _serving_labels.get(key, ((), ()))
        if old_info and old_info != info:
            SERVING_INFO.remove(*old_info)
        for name in set(old_metrics) - set(metric_names):
            SERVING_METRIC.remove(namespace, pipeline, name)
        if production is not None:
            SERVING_INFO.labels(*info).set(1)
            for name, value in production.metrics.items():
                SERVING_METRIC.labels(namespace, pipeline, name).set(value)
            _serving_labels[key] = (info, metric_names)
        else:
            _serving_labels.pop(key, None)


def forget(namespace: str, pipeline: str) -> None:
    mirror_serving(namespace, pipeline, None)
