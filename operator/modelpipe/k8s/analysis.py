"""Read the serving pods' ``/metrics`` for live analysis (decided in planning/analysis.py).

The operator reads each pod directly at its pod IP and the serving port (the cluster's
pod network reaches them). The body is Prometheus text from the model server
(``modelpipe_trainer.serving.telemetry``), capped in size and never logged or quoted:
a pod that cannot be read is a :class:`PodMetrics` with a ``problem`` in our own words.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modelpipe.api.v1alpha1 import ModelPipelineSpec, ModelPipelineStatus
from modelpipe.k8s.bodies import DeploymentBody, PodBody
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.rollout import deployment_pods
from modelpipe.layout import MODEL_VERSION_ANNOTATION
from modelpipe.observed import PodMetrics

# The server's traffic endpoints; health probes and metadata are not the model's traffic.
INFERENCE_ENDPOINTS = frozenset({"infer", "predict"})
MAX_BODY_BYTES = 1 << 20
TIMEOUT_SECONDS = 2.0
# Read at most this many pods a pass: with a 2 s timeout each, a pass stays bounded.
MAX_PODS = 20
Fetch = Callable[[str], str]


def observe_pod_metrics(
    api: KubeApi,
    *,
    namespace: str,
    spec: ModelPipelineSpec,
    status: ModelPipelineStatus,
    deployment: DeploymentBody | None,
    shadow: DeploymentBody | None = None,
) -> tuple[PodMetrics, ...]:
    """The serving pods' /metrics while a bake window (planning.bake) or a canary step
    (planning.canary; its pods share the serving labels) runs, and with them the shadow's
    while a shadow runs (planning.shadow: production's pods count the agreement); else
    nothing, so a pipeline without one costs no extra call."""
    production = status.production
    template, analysis = spec.serving.template, spec.serving.analysis
    baking = production is not None and production.replaced_version is not None
    shadowing = status.shadow is not None and status.shadow.passed_at is None
    judging = (baking or status.canary is not None) and analysis is not None
    if not (judging or shadowing) or template is None or deployment is None:
        return ()
    pods = deployment_pods(api, namespace, deployment)
    if shadowing and shadow is not None:
        pods += deployment_pods(api, namespace, shadow)
    return read_pod_metrics(pods, port=template.port)


def read_pod_metrics(
    pods: list[PodBody], *, port: int, fetch: Fetch | None = None
) -> tuple[PodMetrics, ...]:
    """One :class:`PodMetrics` per live pod of the serving Deployment."""
    get = fetch or fetch_text
    read: list[PodMetrics] = []
    for pod in pods:
        if len(read) >= MAX_PODS or any(p.problem for p in read):
            break  # one unreadable pod holds the window: the rest need not be read
        meta = pod.metadata
        if meta.deletion_timestamp:
            continue
        name = meta.name or "?"
        version = meta.annotations.get(MODEL_VERSION_ANNOTATION)
        address = pod.status.pod_ip
        if not address:
            read.append(PodMetrics(pod=name, version=version, problem="the pod has no IP yet"))
            continue
        try:
            text = get(f"http://{address}:{port}/metrics")
        except MetricsUnreadable as exc:
            read.append(PodMetrics(pod=name, version=version, problem=str(exc)))
            continue
        read.append(parse_metrics(text, pod=name, version=version))
    return tuple(read)


class MetricsUnreadable(Exception):
    """The pod's /metrics did not answer 200 with a body of bounded size."""


@functools.cache
def _client() -> httpx.Client:
    """One client for every pass: building one loads a TLS context, ~100 ms on a busy node."""
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False)


def fetch_text(url: str) -> str:
    try:
        with _client().stream("GET", url) as response:
            if response.status_code != 200:
                raise MetricsUnreadable(f"GET /metrics answered {response.status_code}")
            body = b""
            deadline = time.monotonic() + TIMEOUT_SECONDS  # the whole answer, not each read
            for chunk in response.iter_bytes():
                body += chunk
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("slow answer")
                if len(body) > MAX_BODY_BYTES:
                    raise MetricsUnreadable(f"/metrics is larger than {MAX_BODY_BYTES} bytes")
            return body.decode("utf-8", errors="replace")
    except httpx.TimeoutException:
        raise MetricsUnreadable(f"GET /metrics timed out after {TIMEOUT_SECONDS:g}s") from None
    except httpx.HTTPError as exc:
        raise MetricsUnreadable(f"GET /metrics failed ({type(exc).__name__})") from None


def parse_metrics(text: str, *, pod: str, version: str | None) -> PodMetrics:
    """The server's counters and latency histogram for the inference endpoints."""
    requests = errors = rows = 0.0
    buckets: dict[float, float] = {}
    agreement: dict[str, tuple[float, float]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if sample.name == "modelpipe_predicted_rows_total":
                    rows += sample.value
                if sample.name == "modelpipe_shadow_rows_total":
                    agreed, disagreed = agreement.get(labels["shadow_version"], (0.0, 0.0))
                    if labels["agreement"] == "agreed":
                        agreed += sample.value
                    else:
                        disagreed += sample.value
                    agreement[labels["shadow_version"]] = (agreed, disagreed)
                if labels.get("endpoint") not in INFERENCE_ENDPOINTS:
                    continue
                if sample.name == "modelpipe_requests_total":
                    requests += sample.value
                    errors += sample.value if labels.get("code", "").startswith("5") else 0.0
                elif sample.name == "modelpipe_request_duration_seconds_bucket":
                    bound = float(labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
    except (ValueError, KeyError, TypeError):
        return PodMetrics(pod=pod, version=version, problem="/metrics is not Prometheus text")
    if not buckets and requests == 0 and "modelpipe_model_info" not in text:
        return PodMetrics(pod=pod, version=version, problem="/metrics is not the model server's")
    return PodMetrics(
        pod=pod,
        version=version,
        requests=requests,
        errors=errors,
        rows=rows,
        latency_buckets=tuple(sorted(buckets.items())),
        agreement=tuple((v, a, d) for v, (a, d) in sorted(agreement.items())),
    )
