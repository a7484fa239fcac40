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
from modelpipe.observed import ObservedDeployment
from modelpipe.planning.analysis import Decision, Finding, Limits, judge
from modelpipe.planning.clock import parse, seconds_between
from modelpipe.planning.draft import NOTHING, Decided, Part, condition, emit, wake_after
from modelpipe.planning.outcome import EventType, ScaleDeployment

# How often the pods' /metrics are read while a window runs.
POLL_SECONDS = 10.0


def start_bake(d: Decided, *, replaced: Production | None) -> Part:
    """Called when a model that passed the gate has just become production."""
    analysis = d.spec.serving.analysis
    production = d.status.production
    if analysis is None or replaced is None or production is None:
        return NOTHING
    baking = production.model_copy(update={"replaced_version": replaced.model_version})
    return (
        Part(status=d.with_status(production=baking))
        + emit(
            EventType.NORMAL,
            Reason.BAKING,
            f"Analysing model {production.model_version} live for {analysis.bake_seconds}s "
            f"({describe_limits(analysis)}); it is rolled back to {replaced.model_version} if "
            "it breaks them",
        )
        + wake_after(POLL_SECONDS)
    )


def judge_bake(d: Decided) -> Part:
    """Judge the window of the model in production, if one runs (after converge_serving)."""
    production = d.status.production
    if production is None or production.replaced_version is None:
        return NOTHING
    analysis = d.spec.serving.analysis
    if analysis is None:  # analysis removed from the spec: nothing to judge against
        return _end_window(d, production)
    deployment = d.obs.deployment
    if deployment is None or deployment.template_version != production.model_version:
        return NOTHING  # serving is moving elsewhere (pinned, a newer model): no window to judge
    before = d.previous.production
    if before is None or before.model_version != production.model_version:
        # Promoted on this pass: its pods' /metrics are read from the next pass on.
        message = f"model {production.model_version} serves; its bake window starts"
        return condition(ConditionType.PROMOTED, "True", Reason.BAKING, message)
    started, now = parse(production.promoted_at), parse(d.now)
    assert started is not None and now is not None
    decision = judge(
        d.obs.pod_metrics,
        version=production.model_version,
        limits=limits(analysis),
        started=started,
        seconds=analysis.bake_seconds,
        now=now,
    )
    if decision.finding is Finding.ABORT:
        return _roll_back(d, production, decision, analysis)
    if decision.finding is Finding.HEALTHY:
        part = _end_window(d, production)
        part += _row(d.after(part), production.model_version, decision, analysis, passed=True)
        return part + emit(
            EventType.NORMAL,
            Reason.ANALYSIS_PASSED,
            f"Model {production.model_version} passed its bake window: {decision.message}",
        )
    left = analysis.bake_seconds - (seconds_between(production.promoted_at, d.now) or 0.0)
    return wake_after(min(POLL_SECONDS, max(left, 1.0))) + _under_way(
        d, production.model_version, decision
    )


def _end_window(d: Decided, production: Production) -> Part:
    return Part(
        status=d.with_status(production=production.model_copy(update={"replaced_version": None}))
    )


def _under_way(d: Decided, version: str, decision: Decision) -> Part:
    """Promoted (and so Ready, planning.summary) says the window runs, or why it is held."""
    if decision.finding is Finding.WAIT:
        return condition(
            ConditionType.PROMOTED,
            "True",
            Reason.BAKING,
            f"model {version} serves; {decision.message}",
        )
    message = f"model {version} serves; {decision.message}"
    part = NOTHING
    if d.previous_reason(ConditionType.PROMOTED) != Reason.ANALYSIS_HELD:
        part += emit(EventType.WARNING, Reason.ANALYSIS_HELD, message[:1024])
    return part + condition(ConditionType.PROMOTED, "True", Reason.ANALYSIS_HELD, message[:2048])


def _roll_back(d: Decided, production: Production, decision: Decision, analysis: Analysis) -> Part:
    version, previous = production.model_version, production.replaced_version
    assert previous is not None
    message = f"rolled back in its bake window: {decision.message}"
    part = rolled_back(d, version, reason=Reason.ANALYSIS_FAILED, message=message)
    part += _row(d.after(part), version, decision, analysis, passed=False)
    back = d.find(previous)
    restored = Production(
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
    part += Part(status=d.after(part).with_status(production=restored))
    return (
        part
        + emit(
            EventType.WARNING,
            Reason.ANALYSIS_FAILED,
            f"Model {version} broke its live limits: {decision.message}; "
            f"rolling back to {previous}",
        )
        + wake_after(1.0)  # the next pass moves the Deployment back (planning.serving)
    )


def rolled_back(d: Decided, version: str, *, reason: Reason, message: str) -> Part:
    """The run of ``version`` marked RolledBack with why (nothing when history dropped it):
    a bake window, a canary step or a shadow that judged the live model bad."""
    if d.find(version) is None:
        return NOTHING
    return Part(
        status=d.with_run(
            version, verdict=Verdict.ROLLED_BACK, reason=reason, message=message[:4096]
        )
    )


def _row(d: Decided, version: str, decision: Decision, analysis: Analysis, *, passed: bool) -> Part:
    return analysis_row(
        d, version, decision, metric="live", bound=describe_limits(analysis), passed=passed
    )


def analysis_row(
    d: Decided, version: str, decision: Decision, *, metric: str, bound: str, passed: bool
) -> Part:
    """A status.lastRun.checks row (gate "analysis") for one judged window; it replaces an
    earlier row of the same window (``metric``: "live" for the bake, "canary 25%",
    "shadow" ...). Its value is the error rate, or a shadow's agreement."""
    record = d.find(version)
    if record is None:
        return NOTHING
    window = decision.window
    row = GateCheck(
        gate="analysis",
        metric=metric,
        bound=bound,
        value=decision.agreement
        if decision.agreement is not None
        else (window.error_rate if window else None),
        passed=passed,
        message=decision.message[:1024],
    )
    kept = [c for c in record.checks if (c.gate, c.metric) != ("analysis", metric)]
    return Part(status=d.with_run(version, checks=[*kept, row][-32:]))


def held(d: Decided, message: str) -> Part:
    """Promoted=False AnalysisHeld, warned once: a canary step or a shadow waits for
    readable evidence (planning.canary, planning.shadow)."""
    part = condition(ConditionType.PROMOTED, "False", Reason.ANALYSIS_HELD, message)
    if d.previous_reason(ConditionType.PROMOTED) != Reason.ANALYSIS_HELD:
        part += emit(EventType.WARNING, Reason.ANALYSIS_HELD, message[:1024])
    return part


def scale_to_zero(deployment: ObservedDeployment | None) -> Part:
    """A canary or shadow Deployment of the pipeline's own at zero pods (kept, owned)."""
    if deployment is None or not deployment.owned or deployment.replicas == 0:
        return NOTHING
    return Part(actions=(ScaleDeployment(deployment.name, 0),))


def limits(analysis: Analysis) -> Limits:
    return Limits(
        max_error_rate=analysis.max_error_rate,
        max_latency_p99_ms=analysis.max_latency_p99_ms,
        min_requests=analysis.min_requests,
    )


def describe_limits(analysis: Analysis) -> str:
    limits = []
    if analysis.max_error_rate is not None:
        limits.append(f"errors <= {analysis.max_error_rate:.1%}")
    if analysis.max_latency_p99_ms is not None:
        limits.append(f"p99 <= {analysis.max_latency_p99_ms:g} ms")
    return ", ".join(limits) + f", at least {analysis.min_requests} requests"
