"""Live analysis as a function: pods' /metrics, limits and the clock in, one decision out.
Table-driven, no cluster; the edge reader is tested on the model server's own exposition."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelpipe.k8s.analysis import (
    TIMEOUT_SECONDS,
    MetricsUnreadable,
    fetch_text,
    parse_metrics,
    read_pod_metrics,
)
from modelpipe.k8s.bodies import PodBody, parse_all
from modelpipe.observed import PodMetrics
from modelpipe.planning.analysis import Finding, Limits, judge, merge, quantile_ms
from modelpipe_trainer.serving.telemetry import Telemetry

T0 = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
INF = float("inf")
# 100 requests: 50 under 1 ms, 49 more under 10 ms, the slowest under 100 ms.
FAST = ((0.001, 50.0), (0.01, 99.0), (0.1, 100.0), (INF, 100.0))
SLOW = ((0.001, 0.0), (0.01, 0.0), (0.1, 10.0), (1.0, 100.0), (INF, 100.0))


def pod(
    name: str = "p-1",
    version: str | None = "v2",
    requests: float = 100,
    errors: float = 0,
    buckets: tuple[tuple[float, float], ...] = FAST,
    problem: str | None = None,
) -> PodMetrics:
    return PodMetrics(
        pod=name,
        version=version,
        requests=requests,
        errors=errors,
        rows=requests * 2,
        latency_buckets=buckets,
        problem=problem,
    )


LIMITS = Limits(max_error_rate=0.05, max_latency_p99_ms=50, min_requests=20)


@pytest.mark.parametrize(
    ("scrapes", "elapsed", "finding", "message"),
    [
        ((pod(),), 30, Finding.WAIT, "analysing: 100 requests on 1 pods, 0.0% errors"),
        ((pod(),), 60, Finding.HEALTHY, "healthy: 100 requests"),
        ((pod(errors=10),), 5, Finding.ABORT, "error rate 10.0% above 5.0%"),
        ((pod(buckets=SLOW),), 5, Finding.ABORT, "p99 latency 990.0 ms above 50 ms"),
        # Errors on too few requests are no verdict yet; at the window's end, no verdict at all.
        ((pod(requests=5, errors=5),), 5, Finding.WAIT, "5 requests"),
        ((pod(requests=5),), 60, Finding.HOLD, "5 requests, fewer than the 20 needed"),
        ((pod(problem="GET /metrics timed out after 2s"),), 60, Finding.HOLD, "timed out"),
        ((pod(), pod("p-2", problem="refused")), 60, Finding.HOLD, "pod p-2 could not be read"),
        ((pod(version="v1"),), 60, Finding.HOLD, "no serving pod of model v2"),
        # The old version's errors are not the new one's.
        ((pod(), pod("old", version="v1", errors=100)), 60, Finding.HEALTHY, "healthy"),
        ((pod(errors=3), pod("p-2", errors=3)), 60, Finding.HEALTHY, "200 requests on 2 pods"),
    ],
)
def test_a_window_is_judged_from_the_version_s_pods_and_the_clock(
    scrapes: tuple[PodMetrics, ...], elapsed: int, finding: Finding, message: str
) -> None:
    now = T0 + timedelta(seconds=elapsed)
    decision = judge(scrapes, version="v2", limits=LIMITS, started=T0, seconds=60, now=now)
    assert decision.finding == finding
    assert message in decision.message


def test_unreadable_metrics_are_never_passed_however_long_the_window() -> None:
    late = T0 + timedelta(days=1)
    broken = (pod(problem="GET /metrics answered 404"),)
    decision = judge(broken, version="v2", limits=LIMITS, started=T0, seconds=60, now=late)
    assert decision.finding == Finding.HOLD


def test_no_limits_judge_only_the_evidence() -> None:
    decision = judge(
        (pod(errors=100, buckets=SLOW),),
        version="v2",
        limits=Limits(),
        started=T0,
        seconds=60,
        now=T0 + timedelta(seconds=60),
    )
    assert decision.finding == Finding.HEALTHY


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        (FAST, 0.5, 1.0),  # rank 50 is the top of the first bucket
        (FAST, 0.99, 10.0),
        (((0.01, 0.0), (0.02, 100.0), (INF, 100.0)), 0.5, 15.0),  # linear within a bucket
        (((0.01, 10.0), (INF, 100.0)), 0.99, 10.0),  # in +Inf: the highest finite bound
        ((), 0.5, None),
        (((0.01, 0.0), (INF, 0.0)), 0.5, None),
    ],
)
def test_quantiles_follow_prometheus_histogram_quantile(
    buckets: tuple[tuple[float, float], ...], q: float, expected: float | None
) -> None:
    assert quantile_ms(buckets, q) == (pytest.approx(expected) if expected is not None else None)


def exposition(errors: int = 0) -> str:
    """What the model server itself exposes after some traffic."""
    telemetry = Telemetry(model="iris", version="v2", pipeline="iris")
    telemetry.requests.labels(endpoint="infer", code="200").inc(8)
    telemetry.requests.labels(endpoint="infer", code="500").inc(errors)
    telemetry.requests.labels(endpoint="predict", code="200").inc(2)
    telemetry.requests.labels(endpoint="ready", code="200").inc(50)  # probes are not traffic
    for seconds in (0.0004, 0.003, 0.2):
        telemetry.latency.labels(endpoint="infer").observe(seconds)
    telemetry.latency.labels(endpoint="ready").observe(3.0)
    telemetry.rows.inc(30)
    return telemetry.exposition().decode()


def test_the_model_server_s_exposition_reads_as_its_inference_traffic() -> None:
    got = parse_metrics(exposition(errors=1), pod="iris-abc", version="v2")
    assert (got.requests, got.errors, got.rows, got.problem) == (11.0, 1.0, 30.0, None)
    assert dict(got.latency_buckets)[0.0005] == 1.0
    assert got.latency_buckets[-1] == (INF, 3.0)  # the probe's 3 s is not counted
    window = merge((got,), version="v2")
    assert not isinstance(window, str) and window.p50_ms == pytest.approx(
        3.75
    )  # rank 1.5 of 3, in (2.5, 5] ms


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<html>not metrics</html>", "not Prometheus text"),
        ("# HELP other_total x\nother_total 3\n", "not the model server's"),
    ],
)
def test_a_body_that_is_not_the_server_s_metrics_is_a_problem(text: str, problem: str) -> None:
    got = parse_metrics(text, pod="p", version="v2")
    assert got.problem is not None and problem in got.problem


def test_pods_are_read_at_their_ip_and_port_and_unreadable_ones_say_why() -> None:
    def fetch(url: str) -> str:
        if "127.1.0.3" in url:
            raise MetricsUnreadable("GET /metrics answered 404")
        assert url == "http://127.1.0.2:8080/metrics"
        return exposition()

    pods: list[dict[str, Any]] = [
        {
            "metadata": {"name": "a", "annotations": {"modelpipe.io/model-version": "v2"}},
            "status": {"podIP": "127.1.0.2"},
        },
        {"metadata": {"name": "b"}, "status": {"podIP": "127.1.0.3"}},
        {"metadata": {"name": "c"}, "status": {}},
        {"metadata": {"name": "d", "deletionTimestamp": "x"}, "status": {"podIP": "127.1.0.4"}},
    ]
    got = read_pod_metrics(parse_all(PodBody, pods), port=8080, fetch=fetch)
    assert [(p.pod, p.version, p.problem) for p in got] == [
        ("a", "v2", None),
        ("b", None, "GET /metrics answered 404"),  # holds the window: c is not read
    ]


class _Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/drip":  # a serving image the author wrote can answer like this
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(60):  # bounded: one byte every half second, each under the timeout
                try:
                    self.wfile.write(b"#")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.5)
            return
        body = exposition().encode() if self.path == "/metrics" else b"secret body"
        self.send_response(200 if self.path == "/metrics" else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_reads_metrics_over_loopback_and_never_quotes_a_failing_body(server: str) -> None:
    assert "modelpipe_requests_total" in fetch_text(f"{server}/metrics")
    with pytest.raises(MetricsUnreadable, match="answered 503") as failed:
        fetch_text(f"{server}/other")
    assert "secret" not in str(failed.value)
    with pytest.raises(MetricsUnreadable, match="failed"):
        fetch_text("http://127.0.0.1:9/metrics")


def test_a_slow_drip_metrics_answer_is_cut_at_the_total_deadline(server: str) -> None:
    """Every byte arrives within the read timeout, so only a deadline on the whole answer
    keeps one tenant's serving pod from holding the operator's pass (30 s here)."""
    started = time.monotonic()
    with pytest.raises(MetricsUnreadable, match="timed out"):
        fetch_text(f"{server}/drip")
    assert time.monotonic() - started < 3 * TIMEOUT_SECONDS
