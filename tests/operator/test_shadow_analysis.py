"""A shadow's evidence: the agreement counters of production's server as the operator reads
them, and judge_shadow's decisions (table-driven, the clock injected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from modelpipe.k8s.analysis import parse_metrics
from modelpipe.observed import PodMetrics
from modelpipe.planning.analysis import Finding, Limits, agreement, judge_shadow
from modelpipe_trainer.serving.mirror import Mirror, Target
from modelpipe_trainer.serving.telemetry import Telemetry

T0 = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
FAST = ((0.001, 50.0), (0.01, 100.0), (float("inf"), 100.0))
LIMITS = Limits(max_error_rate=0.05, min_requests=20)


def test_production_s_agreement_counters_read_per_shadow_version() -> None:
    telemetry = Telemetry(model="iris", version="v1", pipeline="iris")
    mirror = Mirror(Target("127.0.0.1", 9), model="iris", registry=telemetry.registry)
    try:
        mirror.rows.labels(shadow_version="v2", agreement="agreed").inc(30)
        mirror.rows.labels(shadow_version="v2", agreement="disagreed").inc(10)
        mirror.rows.labels(shadow_version="v3", agreement="agreed").inc(5)
        text = generate_latest(telemetry.registry).decode()
    finally:
        mirror.close()
    got = parse_metrics(text, pod="iris-a", version="v1")
    assert got.problem is None
    assert got.agreement == (("v2", 30.0, 10.0), ("v3", 5.0, 0.0))
    assert agreement((got, got), version="v2") == (80.0, 60.0)


def scrapes(
    agreed: float, disagreed: float, *, requests: float = 100, errors: float = 0
) -> tuple[PodMetrics, ...]:
    production = PodMetrics(pod="p", version="v1", agreement=(("v2", agreed, disagreed),))
    shadow = PodMetrics(
        pod="s", version="v2", requests=requests, errors=errors, latency_buckets=FAST
    )
    return production, shadow


@pytest.mark.parametrize(
    ("seen", "elapsed", "finding", "message"),
    [
        (scrapes(95, 5), 30, Finding.WAIT, "agreement 95.0% (95 of 100 mirrored rows)"),
        (scrapes(95, 5), 60, Finding.HEALTHY, "healthy: 100 requests"),
        (scrapes(90, 10), 60, Finding.HEALTHY, "agreement 90.0%"),  # the bound itself passes
        (scrapes(40, 60), 5, Finding.ABORT, "agreement 40.0% (40 of 100 mirrored rows) below"),
        (scrapes(0, 10), 5, Finding.WAIT, "agreement 0.0% (0 of 10"),  # too few rows to know
        (scrapes(5, 0), 60, Finding.HOLD, "5 mirrored rows compared"),
        (scrapes(0, 0), 60, Finding.HOLD, "0 mirrored rows compared"),
        (scrapes(99, 1, errors=30), 5, Finding.ABORT, "error rate 30.0% above 5.0%"),
        (scrapes(99, 1, requests=5), 60, Finding.HOLD, "5 requests, fewer than the 20"),
        ((scrapes(95, 5)[0],), 60, Finding.HOLD, "no serving pod of model v2"),
    ],
)
def test_a_shadow_is_judged_on_its_window_then_its_agreement(
    seen: tuple[PodMetrics, ...], elapsed: float, finding: Finding, message: str
) -> None:
    decision = judge_shadow(
        seen,
        version="v2",
        limits=LIMITS,
        min_agreement=0.9,
        started=T0,
        seconds=60,
        now=T0 + timedelta(seconds=elapsed),
    )
    assert decision.finding is finding, decision.message
    assert message in decision.message
