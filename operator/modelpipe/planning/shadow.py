"""Shadow (spec.serving.strategy Shadow): the candidate answers copies of production's
requests, and only production's answers reach clients.

    passed the gate ──▶ shadow Deployment of the candidate (<pipeline>-shadow, its own
        │                Service); production's servers copy each request to it and count
        │                whether its predictions agree (MODELPIPE_SHADOW_TARGET)
        │ durationSeconds over (from its pods' readiness), enough traffic,
        │ within serving.analysis' limits and agreement >= minAgreement
        ▼
    passed ──▶ production rolls to the candidate (planning.serving); the shadow scales to 0
        │
        │ a limit broken, agreement too low, or its pods not ready in time
        ▼
    ShadowRejected: the run is RolledBack, production untouched, the shadow at zero

Production's pods are never scaled or patched here: they carry the mirror setting while
the strategy is Shadow (:func:`mirrors`, manifests.serving), so a shadow starting or
ending restarts nothing. The ``<pipeline>-shadow`` Service is claimed (created, owned)
as soon as the strategy is Shadow (:func:`claim_service`), and production copies
requests to it only while it is the pipeline's own: a Service of that name that belongs
to anyone else (another pipeline named ``<pipeline>-shadow`` included) never receives a
copy, and the shadow is blocked (DeploymentConflict). ``status.shadow`` holds the
candidate and when it began: a restarted operator resumes it. Unreadable metrics or too
few mirrored rows hold it (AnalysisHeld); it never passes without evidence. Judged by
planning.analysis.judge_shadow.
"""

from __future__ import annotations

from modelpipe.api.v1alpha1 import ConditionType, Reason, ShadowProgress
from modelpipe.layout import model_dir
from modelpipe.manifests.canary import canary_patch
from modelpipe.manifests.shadow import shadow_deployment, shadow_name, shadow_service
from modelpipe.planning import bake
from modelpipe.planning.analysis import Decision, Finding, Limits, judge_shadow
from modelpipe.planning.canary import Stage
from modelpipe.planning.clock import parse
from modelpipe.planning.draft import NOTHING, Decided, Part, block, condition, emit, wake_after
from modelpipe.planning.outcome import (
    CreateDeployment,
    CreateService,
    EventType,
    UpdateDeployment,
)
from modelpipe.planning.stored import stored_model_uri
from modelpipe.planning.target import Target, replaces_production

# How often the shadow is looked at while its pods start or its window runs.
POLL_SECONDS = 5.0


def mirrors(d: Decided) -> bool:
    """Whether production's pods copy requests to the shadow Service: strategy Shadow, and
    the Service is the pipeline's own or about to be created by it (claim_service)."""
    observed = d.obs
    foreign = observed.shadow_service_exists and not observed.shadow_service_owned
    return d.spec.serving.strategy.shadowing and not foreign


def claim_service(d: Decided) -> Part:
    """The shadow Service, created once the strategy is Shadow and kept (owned) after."""
    if not d.spec.serving.strategy.shadowing or d.spec.serving.template is None:
        return NOTHING
    if d.obs.shadow_service_exists:
        return NOTHING
    return Part(actions=(CreateService(shadow_service(meta=d.obs.metadata, spec=d.spec)),))


def applies(d: Decided, target: Target) -> bool:
    """A promotion replacing a served model runs in shadow first (replaces_production)."""
    return d.spec.serving.strategy.shadowing and replaces_production(d, target)


def advance(d: Decided, target: Target) -> tuple[Part, Stage]:
    """The shadow's part of this pass, and where it stands after it."""
    conflict = _conflict(d)
    if conflict is not None:  # before anything is written: never another's objects
        return block(d, Reason.DEPLOYMENT_CONFLICT, conflict), Stage.STEPPING
    progress = d.status.shadow
    if progress is None or progress.model_version != target.version:
        return _enter(d, target), Stage.STEPPING
    if progress.passed_at is not None:
        return bake.scale_to_zero(d.obs.shadow), Stage.DONE
    moved = _converge(d, target, progress)
    shadow = d.obs.shadow
    if moved.actions or shadow is None:
        return moved + _running(d, progress, "its pods are being set up"), Stage.STEPPING
    if shadow.rollout_failed:
        failure = "the shadow's pods were not ready within the progress deadline"
        return _reject(d, progress, Decision(Finding.ABORT, failure)), Stage.ABORTED
    if not shadow.rolled_out:
        ready = f"{shadow.ready_replicas} of {shadow.replicas} shadow pods ready"
        return _running(d, progress, f"waiting: {ready}"), Stage.STEPPING
    part = NOTHING
    if progress.ready_at is None:  # the duration counts from the pods' readiness
        progress = progress.model_copy(update={"ready_at": d.now})
        part = Part(status=d.with_status(shadow=progress))
    judged, stage = _judged(d.after(part), progress)
    return part + judged, stage


def _conflict(d: Decided) -> str | None:
    name = shadow_name(d.obs.metadata.name)
    shadow = d.obs.shadow
    if shadow is not None and not shadow.owned:
        kind = "Deployment"
    elif d.obs.shadow_service_exists and not d.obs.shadow_service_owned:
        kind = "Service"
    else:
        return None
    return (
        f"{kind} {name} exists and is not this pipeline's: remove or rename it "
        "(the shadow needs that name)"
    )


def _judged(d: Decided, progress: ShadowProgress) -> tuple[Part, Stage]:
    trial = d.spec.serving.strategy.shadow
    assert trial is not None  # the strategy is Shadow (applies)
    started, now = parse(progress.ready_at or progress.started_at), parse(d.now)
    assert started is not None and now is not None
    analysis = d.spec.serving.analysis
    decision = judge_shadow(
        d.obs.pod_metrics,
        version=progress.model_version,
        limits=bake.limits(analysis) if analysis else Limits(),
        min_agreement=trial.min_agreement,
        started=started,
        seconds=trial.duration_seconds,
        now=now,
    )
    if decision.finding is Finding.ABORT:
        return _reject(d, progress, decision), Stage.ABORTED
    if decision.finding is Finding.HOLD:
        return _held(d, progress, decision), Stage.STEPPING
    if decision.finding is Finding.WAIT:
        return _running(d, progress, decision.message), Stage.STEPPING
    return _pass(d, progress, decision), Stage.DONE


def _enter(d: Decided, target: Target) -> Part:
    trial = d.spec.serving.strategy.shadow
    assert trial is not None
    progress = ShadowProgress(model_version=target.version, started_at=d.now)
    part = Part(status=d.with_status(shadow=progress))
    part += _converge(d.after(part), target, progress)
    part += emit(
        EventType.NORMAL,
        Reason.SHADOW_RUNNING,
        f"Shadow of model {target.version}: it answers copies of production's requests "
        f"for {trial.duration_seconds}s (agreement >= {trial.min_agreement:.1%} needed); "
        "clients get production's answers only",
    )
    return part + _running(d.after(part), progress, "its pods are being set up")


def _converge(d: Decided, target: Target, progress: ShadowProgress) -> Part:
    """The writes that bring the shadow to the candidate (none when it is there)."""
    shadow = d.obs.shadow
    version = progress.model_version
    uri = stored_model_uri(d, version)
    if uri == "":  # the spec moved to another store mid-way: nothing points pods at the old one
        return NOTHING
    manifest = shadow_deployment(
        meta=d.obs.metadata,
        spec=d.spec,
        version=version,
        model_dir=model_dir(pipeline=d.obs.metadata.name, version=version),
        replicas=d.spec.serving.replicas,
        config=d.obs.config,
        model_uri=uri,
    )
    part = NOTHING
    if shadow is None:
        part += Part(actions=(CreateDeployment(manifest),))
    elif shadow.template_version != version or shadow.replicas != d.spec.serving.replicas:
        part += Part(actions=(UpdateDeployment(shadow.name, canary_patch(manifest)),))
    return part


def _pass(d: Decided, progress: ShadowProgress, decision: Decision) -> Part:
    version = progress.model_version
    part = _row(d, progress, decision, passed=True)
    passed = progress.model_copy(update={"passed_at": d.now})
    part += Part(status=d.after(part).with_status(shadow=passed))
    part += emit(
        EventType.NORMAL,
        Reason.SHADOW_RUNNING,
        f"Shadow of model {version} passed: {decision.message}; rolling it out to production",
    )
    return part + bake.scale_to_zero(d.obs.shadow)


def _reject(d: Decided, progress: ShadowProgress, decision: Decision) -> Part:
    version = progress.model_version
    message = f"rejected in shadow: {decision.message}"
    part = _row(d, progress, decision, passed=False)
    part += bake.rolled_back(d.after(part), version, reason=Reason.SHADOW_REJECTED, message=message)
    part += Part(status=d.after(part).with_status(shadow=None))
    return (
        part
        + bake.scale_to_zero(d.obs.shadow)
        + emit(
            EventType.WARNING,
            Reason.SHADOW_REJECTED,
            f"Shadow of model {version} rejected, production untouched: {decision.message}"[:1024],
        )
        + wake_after(1.0)
    )


def _row(d: Decided, progress: ShadowProgress, decision: Decision, *, passed: bool) -> Part:
    trial = d.spec.serving.strategy.shadow
    analysis = d.spec.serving.analysis
    needed = f"agreement >= {trial.min_agreement:.1%}" if trial else "agreement"
    limits = (
        bake.describe_limits(analysis) if analysis else f"at least {Limits().min_requests} requests"
    )
    version = progress.model_version
    bound = f"{needed}, {limits}"
    return bake.analysis_row(d, version, decision, metric="shadow", bound=bound, passed=passed)


def _running(d: Decided, progress: ShadowProgress, words: str) -> Part:
    """Promoted=False ShadowRunning: how the shadow stands (Ready says so too)."""
    return condition(
        ConditionType.PROMOTED, "False", Reason.SHADOW_RUNNING, _where(progress, words)
    ) + wake_after(POLL_SECONDS)


def _held(d: Decided, progress: ShadowProgress, decision: Decision) -> Part:
    """The shadow waits for readable evidence (bake.held)."""
    return bake.held(d, _where(progress, decision.message)) + wake_after(POLL_SECONDS)


def _where(progress: ShadowProgress, words: str) -> str:
    return f"shadow of model {progress.model_version} beside production; {words}"[:2048]


def retire(d: Decided) -> Part:
    """After the shadow (rejected, superseded, promoted or switched off): status.shadow
    cleared and the shadow Deployment at zero."""
    progress = d.status.shadow
    if progress is not None and d.rolling_out == progress.model_version:
        return NOTHING  # it runs, or production is rolling to it
    part = NOTHING
    if progress is not None:
        part += Part(status=d.with_status(shadow=None))
    return part + bake.scale_to_zero(d.obs.shadow)
