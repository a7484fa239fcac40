"""Live analysis: is the model on the serving pods healthy, judged from their ``/metrics``?

Pure: what the pods' ``/metrics`` said (``observed.PodMetrics``, read at the edge by
``k8s/analysis.py``), the limits and the clock in, one :class:`Decision` out. Each
window (a canary step, a post-promotion bake) is judged the same way:

    pods of the version ──merge──▶ Window ──limits, clock──▶ Decision
                                    (errors/requests, p50/p99, rows)

    unreadable pod or none of the version ─▶ HOLD   (never passed on missing evidence)
    enough requests and a limit broken     ─▶ ABORT  (at once, mid-window)
    window over, enough requests, healthy  ─▶ HEALTHY
    otherwise                              ─▶ WAIT   (judged again on the next pass)
    window over with too few requests      ─▶ HOLD   (inconclusive: no traffic, no verdict)

A shadow (planning.shadow) is judged the same way on the shadow's pods, and then on its
agreement with production (:func:`judge_shadow`), counted by production's pods.

Counters are cumulative since each pod started; the pods of a new version start with the
window, so their totals are the window's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from modelpipe.observed import PodMetrics


class Finding(StrEnum):
    HEALTHY = "Healthy"
    ABORT = "Abort"
    HOLD = "Hold"
    WAIT = "Wait"


@dataclass(frozen=True)
class Limits:
    """What a healthy window is; ``None`` leaves a measure unjudged."""

    max_error_rate: float | None = None
    max_latency_p99_ms: float | None = None
    min_requests: int = 20


@dataclass(frozen=True)
class Window:
    """The traffic of one version's pods, merged."""

    pods: int
    requests: float
    errors: float
    rows: float
    p50_ms: float | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def describe(self) -> str:
        latency = (
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"
            if self.p50_ms is not None and self.p99_ms is not None
            else "no latency yet"
        )
        return (
            f"{self.requests:g} requests on {self.pods} pods, {self.error_rate:.1%} errors, "
            f"{latency}, {self.rows:g} rows predicted"
        )


@dataclass(frozen=True)
class Decision:
    finding: Finding
    message: str
    window: Window | None = None
    # A shadow's share of mirrored rows that agreed with production (judge_shadow).
    agreement: float | None = None


def merge(scrapes: tuple[PodMetrics, ...], *, version: str) -> Window | str:
    """The version's pods as one window, or why there is none (a pod unreadable, no pod)."""
    mine = [s for s in scrapes if s.version == version]
    unreadable = [s for s in mine if s.problem is not None]
    if unreadable:
        first = unreadable[0]
        return f"/metrics of pod {first.pod} could not be read: {first.problem}"
    if not mine:
        return f"no serving pod of model {version} to read /metrics from"
    buckets: dict[float, float] = {}
    for scrape in mine:
        for bound, count in scrape.latency_buckets:
            buckets[bound] = buckets.get(bound, 0.0) + count
    ordered = tuple(sorted(buckets.items()))
    return Window(
        pods=len(mine),
        requests=sum(s.requests for s in mine),
        errors=sum(s.errors for s in mine),
        rows=sum(s.rows for s in mine),
        p50_ms=quantile_ms(ordered, 0.5),
        p99_ms=quantile_ms(ordered, 0.99),
    )


def quantile_ms(buckets: tuple[tuple[float, float], ...], q: float) -> float | None:
    """As Prometheus' ``histogram_quantile``: linear within the bucket holding the rank;
    a rank in the ``+Inf`` bucket answers the highest finite bound."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound * 1000
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return (lower_bound + (bound - lower_bound) * share) * 1000
        lower_bound, lower_count = bound, count
    return lower_bound * 1000


def judge(
    scrapes: tuple[PodMetrics, ...],
    *,
    version: str,
    limits: Limits,
    started: datetime,
    seconds: float,
    now: datetime,
) -> Decision:
    """The decision on a window of ``seconds`` that began at ``started``."""
    window = merge(scrapes, version=version)
    if isinstance(window, str):
        return Decision(Finding.HOLD, f"analysis held: {window}")
    broken = _broken(window, limits)
    enough = window.requests >= limits.min_requests
    if broken and enough:
        return Decision(Finding.ABORT, f"{broken} ({window.describe()})", window)
    if (now - started).total_seconds() < seconds:
        return Decision(Finding.WAIT, f"analysing: {window.describe()}", window)
    if not enough:
        return Decision(
            Finding.HOLD,
            f"analysis held: {window.requests:g} requests, fewer than the "
            f"{limits.min_requests} needed for a verdict",
            window,
        )
    return Decision(Finding.HEALTHY, f"healthy: {window.describe()}", window)


def _broken(window: Window, limits: Limits) -> str:
    """The limits the window breaks, in words; empty when none."""
    broken = []
    if limits.max_error_rate is not None and window.error_rate > limits.max_error_rate:
        broken.append(f"error rate {window.error_rate:.1%} above {limits.max_error_rate:.1%}")
    p99, bound = window.p99_ms, limits.max_latency_p99_ms
    if bound is not None and p99 is not None and p99 > bound:
        broken.append(f"p99 latency {p99:.1f} ms above {bound:g} ms")
    return "; ".join(broken)


def agreement(scrapes: tuple[PodMetrics, ...], *, version: str) -> tuple[float, float]:
    """(rows compared, rows agreed) with the shadow of ``version``, over production's pods."""
    compared = agreed = 0.0
    for scrape in scrapes:
        for shadow_version, yes, no in scrape.agreement:
            if shadow_version == version:
                compared, agreed = compared + yes + no, agreed + yes
    return compared, agreed


def judge_shadow(
    scrapes: tuple[PodMetrics, ...],
    *,
    version: str,
    limits: Limits,
    min_agreement: float,
    started: datetime,
    seconds: float,
    now: datetime,
) -> Decision:
    """The shadow's window as :func:`judge` has it, then its agreement with production:
    too low on enough rows rejects it at once; too few rows at the end hold it."""
    decision = judge(
        scrapes, version=version, limits=limits, started=started, seconds=seconds, now=now
    )
    if decision.finding in (Finding.ABORT, Finding.HOLD):
        return decision
    compared, agreed = agreement(scrapes, version=version)
    share = agreed / compared if compared else None
    said = (
        f"agreement {share:.1%} ({agreed:g} of {compared:g} mirrored rows)"
        if share is not None
        else "no mirrored rows compared yet"
    )
    enough = compared >= limits.min_requests
    if share is not None and enough and share < min_agreement:
        message = f"{said} below the {min_agreement:.1%} required"
        return Decision(Finding.ABORT, message, decision.window, share)
    if decision.finding is Finding.WAIT:
        return Decision(Finding.WAIT, f"{decision.message}; {said}", decision.window, share)
    if not enough:
        held = (
            f"analysis held: {compared:g} mirrored rows compared with production's answers, "
            f"fewer than the {limits.min_requests} needed (is production's server mirroring?)"
        )
        return Decision(Finding.HOLD, held, decision.window, share)
    return Decision(Finding.HEALTHY, f"{decision.message}; {said}", decision.window, share)
