"""The bake window: a promoted model is rolled back when its live metrics break the limits.

    promoted, replacing P ──(spec.serving.analysis)──▶ baking: production.replacedVersion = P
        │                                                  │
        │ bakeSeconds over, enough requests, healthy       │ enough requests, a limit broken
        ▼                                                  ▼
    AnalysisPassed: replacedVersion cleared     AnalysisFailed: the run is RolledBack,
                                                production is P again, serving converges to P

Unreadable metrics hold the window (Ready=False AnalysisHeld): it never passes without
evidence. Each decision is pure (planning.analysis, from the observed /metrics and the
clock); the window's start is ``production.promotedAt``, so an operator restarted during
the window resumes it where it stands.
"""

from __future__ import annotations

from modelpipe.api.v1alpha1 import ConditionType, GateCheck, Production, Reason, Verdict
from modelpipe.api.v1alpha1.serving import Analysis
from modelpipe.layout import model_dir
from modelpipe.planning.analysis import Decision, Finding, Limits, judge
from modelpipe.planning.clock import parse, seconds_between
from modelpipe.planning.draft import Draft
from modelpipe.planning.outcome import EventType

# How often the pods' /metrics are read while a window runs.
POLL_SECONDS = 10.0


def start_bake(d: Draft, *, replaced: Production | None) -> None:
    """Called when a model that passed the gate has just become production."""
    analysis = d.spec.serving.analysis
    production = d.status.production
    if analysis is None or replaced is None or production is None:
        return
    production.replaced_version = replaced.model_version
    d.emit(
        EventType.NORMAL,
        Reason.BAKING,
        f"Analysing model {production.model_version} live for {analysis.bake_seconds}s "
        f"({describe_limits(analysis)}); it is rolled back to {replaced.model_version} if "
        "it breaks them",
    )
    d.wake_after(POLL_SECONDS)


def judge_bake(d: Draft) -> None:
    """Judge the window of the model in production, if one runs (after converge_serving)."""
    production = d.status.production
    if production is None or production.replaced_version is None:
        return
    analysis = d.spec.serving.analysis
    if analysis is None:  # analysis removed from the spec: nothing to judge against
        production.replaced_version = None
        return
    deployment = d.obs.deployment
    if deployment is None or deployment.template_version != production.model_version:
        return  # serving is moving elsewhere (pinned, a newer model): no window to judge
    before = d.previous.production
    if before is None or before.model_version != production.model_version:
        # Promoted on this pass: its pods' /metrics are read from the next pass on.
        message = f"model {production.model_version} serves; its bake window starts"
        d.condition(ConditionType.PROMOTED, "True", Reason.BAKING, message)
        return
    started, now = parse(production.promoted_at), parse(d.now)
    assert started is not None and now is not None
    decision = judge(
        d.obs.pod_metrics,
        version=production.model_version,
        limits=Limits(
            max_error_rate=analysis.max_error_rate,
            max_latency_p99_ms=analysis.max_latency_p99_ms,
            min_requests=analysis.min_requests,
        ),
        started=started,
        seconds=analysis.bake_seconds,
        now=now,
    )
    if decision.finding is Finding.ABORT:
        _roll_back(d, production, decision, analysis)
    elif decision.finding is Finding.HEALTHY:
        production.replaced_version = None
        _row(d, production.model_version, decision, analysis, passed=True)
        d.emit(
            EventType.NORMAL,
            Reason.ANALYSIS_PASSED,
            f"Model {production.model_version} passed its bake window: {decision.message}",
        )
    else:
        left = analysis.bake_seconds - (seconds_between(production.promoted_at, d.now) or 0.0)
        d.wake_after(min(POLL_SECONDS, max(left, 1.0)))
        _under_way(d, production.model_version, decision)


def _under_way(d: Draft, version: str, decision: Decision) -> None:
    """Promoted (and so Ready, planning.summary) says the window runs, or why it is held."""
    if decision.finding is Finding.WAIT:
        d.condition(
            ConditionType.PROMOTED,
            "True",
            Reason.BAKING,
            f"model {version} serves; {decision.message}",
        )
        return
    message = f"model {version} serves; {decision.message}"
    if d.previous_reason(ConditionType.PROMOTED) != Reason.ANALYSIS_HELD:
        d.emit(EventType.WARNING, Reason.ANALYSIS_HELD, message[:1024])
    d.condition(ConditionType.PROMOTED, "True", Reason.ANALYSIS_HELD, message[:2048])


def _roll_back(d: Draft, production: Production, decision: Decision, analysis: Analysis) -> None:
    version, previous = production.model_version, production.replaced_version
    assert previous is not None
    record = d.find(version)
    message = f"rolled back in its bake window: {decision.message}"
    if record is not None:
        record.verdict, record.reason, record.message = (
            Verdict.ROLLED_BACK,
            Reason.ANALYSIS_FAILED,
            message,
        )
    _row(d, version, decision, analysis, passed=False)
    back = d.find(previous)
    d.status.production = Production(
        model_version=previous,
        code_revision=back.code_revision if back else None,
        dataset_version=back.dataset_version if back else None,
        data_hash=back.data_hash if back else None,
        input_hash=back.input_hash if back else None,
        metrics=dict(back.metrics) if back else {},
        model_dir=model_dir(pipeline=d.obs.metadata.name, version=previous),
        model_uri=back.model_uri if back else None,
        promoted_at=d.now,
        reason="restored as the last good model",
    )
    d.emit(
        EventType.WARNING,
        Reason.ANALYSIS_FAILED,
        f"Model {version} broke its live limits: {decision.message}; rolling back to {previous}",
    )
    d.wake_after(1.0)  # the next pass moves the Deployment back (planning.serving)


def _row(d: Draft, version: str, decision: Decision, analysis: Analysis, *, passed: bool) -> None:
    record = d.find(version)
    if record is None:
        return
    window = decision.window
    row = GateCheck(
        gate="analysis",
        metric="live",
        bound=describe_limits(analysis),
        value=window.error_rate if window else None,
        passed=passed,
        message=decision.message[:1024],
    )
    record.checks = [*[c for c in record.checks if c.gate != "analysis"], row][-32:]


def describe_limits(analysis: Analysis) -> str:
    limits = []
    if analysis.max_error_rate is not None:
        limits.append(f"errors <= {analysis.max_error_rate:.1%}")
    if analysis.max_latency_p99_ms is not None:
        limits.append(f"p99 <= {analysis.max_latency_p99_ms:g} ms")
    return ", ".join(limits) + f", at least {analysis.min_requests} requests"
