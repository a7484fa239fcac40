"""Canary steps (spec.serving.strategy Canary): the candidate beside production, step by step.

    passed the gate ──▶ step 1: canary Deployment at w1% of the pods, production the rest
        │ the step's pause over (with serving.analysis: its live /metrics healthy over it)
        ▼
    step 2 ... ──last step passed──▶ production rolls to the candidate (planning.serving),
        │                            then the canary Deployment scales to zero (retire)
        │ a limit broken, or the canary's pods not ready in time
        ▼
    CanaryAborted: the run is RolledBack, production back on all its pods, canary at zero

The split is by replica ratio behind the one Service (:func:`split`). A step's pause
and analysis count from when its canary pods were all ready (``readyAt``), so a slow
start does not eat it. ``status.canary`` holds the step and when it began: an operator
restarted mid-step resumes it there, and every write sets a number or a version, so a
step redone is never a second promotion.
Unreadable metrics hold the step (AnalysisHeld); it never passes without evidence.
"""

from __future__ import annotations

from enum import StrEnum

from modelpipe.api.v1alpha1 import CanaryProgress, ConditionType, Reason
from modelpipe.api.v1alpha1.strategy import CanaryStep
from modelpipe.layout import model_dir
from modelpipe.manifests.canary import canary_deployment, canary_name, canary_patch
from modelpipe.observed import ObservedDeployment
from modelpipe.planning import bake
from modelpipe.planning.analysis import Decision, Finding, judge
from modelpipe.planning.clock import parse
from modelpipe.planning.draft import NOTHING, Decided, Part, block, condition, emit, wake_after
from modelpipe.planning.outcome import (
    CreateDeployment,
    EventType,
    ScaleDeployment,
    UpdateDeployment,
)
from modelpipe.planning.stored import stored_model_uri
from modelpipe.planning.target import Target, replaces_production

# How often a step is looked at while its pods start or its pause runs.
POLL_SECONDS = 5.0


class Stage(StrEnum):
    """Where the canary stands after this pass."""

    STEPPING = "Stepping"  # a step runs: production is not touched
    DONE = "Done"  # every step passed: production rolls to the candidate
    ABORTED = "Aborted"  # the candidate is RolledBack: production stays


def split(total: int, weight: int) -> tuple[int, int]:
    """(production, canary) pods for ``weight`` percent of ``total``: below 100 at least one
    of each, so one replica runs half and half (the status says the real ratio)."""
    total = max(total, 1)
    if weight >= 100:
        return 0, total
    if total == 1:
        return 1, 1
    canary = min(total - 1, max(1, round(total * weight / 100)))
    return total - canary, canary


def applies(d: Decided, target: Target) -> bool:
    """A promotion replacing a served model goes through the steps (replaces_production)."""
    return d.spec.serving.strategy.canary and replaces_production(d, target)


def advance(d: Decided, stable: ObservedDeployment, target: Target) -> tuple[Part, Stage]:
    """The canary's part of this pass, and where it stands after it."""
    steps = d.spec.serving.strategy.steps or []
    progress = d.status.canary
    canary = d.obs.canary
    if canary is not None and not canary.owned:  # before any step: never write another's
        name = canary_name(d.obs.metadata.name)
        return block(
            d,
            Reason.DEPLOYMENT_CONFLICT,
            f"Deployment {name} exists and is not this pipeline's: remove or rename it "
            "(the canary needs that name)",
        ), Stage.STEPPING
    if progress is None or progress.model_version != target.version:
        return _enter(d, stable, target, 0), Stage.STEPPING
    if progress.step >= len(steps):
        return _restore(d, stable), Stage.DONE
    moved = _converge_step(d, stable, target, progress)
    if moved.actions or canary is None:
        return moved + _stepping(d, progress, "its pods are being set up"), Stage.STEPPING
    step = steps[progress.step]
    if canary.rollout_failed:
        failure = "the canary's pods were not ready within the progress deadline"
        return _abort(d, progress, Decision(Finding.ABORT, failure)), Stage.ABORTED
    if not canary.rolled_out:
        ready = f"{canary.ready_replicas} of {canary.replicas} canary pods ready"
        return _stepping(d, progress, f"waiting: {ready}"), Stage.STEPPING
    part = NOTHING
    if progress.ready_at is None:  # the pause and the analysis count from the pods' readiness
        progress = progress.model_copy(update={"ready_at": d.now})
        part = Part(status=d.with_status(canary=progress))
    judged, stage = _judged(d.after(part), stable, target, progress, step)
    return part + judged, stage


def _judged(
    d: Decided,
    stable: ObservedDeployment,
    target: Target,
    progress: CanaryProgress,
    step: CanaryStep,
) -> tuple[Part, Stage]:
    decision = _judge(d, progress, step)
    if decision.finding is Finding.ABORT:
        return _abort(d, progress, decision), Stage.ABORTED
    if decision.finding is Finding.HOLD:
        return _held(d, progress, decision), Stage.STEPPING
    if decision.finding is Finding.WAIT:
        return _stepping(d, progress, decision.message), Stage.STEPPING
    return _pass(d, stable, target, progress, decision)


def _judge(d: Decided, progress: CanaryProgress, step: CanaryStep) -> Decision:
    started, now = parse(progress.ready_at or progress.step_started_at), parse(d.now)
    assert started is not None and now is not None
    analysis = d.spec.serving.analysis
    if analysis is None:
        left = step.pause_seconds - (now - started).total_seconds()
        if left > 0:
            return Decision(Finding.WAIT, f"pausing, {left:.0f}s left")
        return Decision(Finding.HEALTHY, f"paused {step.pause_seconds}s")
    return judge(
        d.obs.pod_metrics,
        version=progress.model_version,
        limits=bake.limits(analysis),
        started=started,
        seconds=step.pause_seconds,
        now=now,
    )


def _enter(d: Decided, stable: ObservedDeployment, target: Target, index: int) -> Part:
    steps = d.spec.serving.strategy.steps or []
    step = steps[index]
    stable_pods, canary_pods = split(d.spec.serving.replicas, step.weight)
    progress = CanaryProgress(
        model_version=target.version,
        step=index,
        weight=step.weight,
        canary_replicas=canary_pods,
        stable_replicas=stable_pods,
        step_started_at=d.now,
    )
    part = Part(status=d.with_status(canary=progress))
    part += _converge_step(d.after(part), stable, target, progress)
    part += emit(
        EventType.NORMAL,
        Reason.CANARY_STEP,
        f"Canary of model {target.version}, step {index + 1}/{len(steps)}: {step.weight}% "
        f"({canary_pods} of {canary_pods + stable_pods} pods) for {step.pause_seconds}s",
    )
    return part + _stepping(d.after(part), progress, "its pods are being set up")


def _converge_step(
    d: Decided, stable: ObservedDeployment, target: Target, progress: CanaryProgress
) -> Part:
    """The writes that bring both Deployments to the step's split (none when they are)."""
    canary = d.obs.canary
    version = progress.model_version
    uri = stored_model_uri(d, version)
    if uri == "":  # the spec moved to another store mid-way: nothing points pods at the old one
        return NOTHING
    manifest = canary_deployment(
        meta=d.obs.metadata,
        spec=d.spec,
        version=version,
        model_dir=model_dir(pipeline=d.obs.metadata.name, version=version),
        replicas=progress.canary_replicas,
        config=d.obs.config,
        model_uri=uri,
    )
    part = NOTHING
    if canary is None:
        part += Part(actions=(CreateDeployment(manifest),))
    elif canary.template_version != version or canary.replicas != progress.canary_replicas:
        part += Part(actions=(UpdateDeployment(canary.name, canary_patch(manifest)),))
    if stable.replicas != progress.stable_replicas:
        part += Part(actions=(ScaleDeployment(stable.name, progress.stable_replicas),))
    return part


def _pass(
    d: Decided,
    stable: ObservedDeployment,
    target: Target,
    progress: CanaryProgress,
    decision: Decision,
) -> tuple[Part, Stage]:
    steps = d.spec.serving.strategy.steps or []
    number = f"{progress.step + 1}/{len(steps)}"
    part = _row(d, progress, decision, passed=True)
    last = progress.step + 1 >= len(steps)
    then = "rolling it out to every pod" if last else "next step"
    part += emit(
        EventType.NORMAL,
        Reason.CANARY_STEP,
        f"Canary of model {progress.model_version} passed step {number} "
        f"({progress.weight}%): {decision.message}; {then}",
    )
    if not last:
        return part + _enter(d.after(part), stable, target, progress.step + 1), Stage.STEPPING
    done = progress.model_copy(
        update={"step": len(steps), "step_started_at": d.now, "ready_at": None}
    )
    part += Part(status=d.after(part).with_status(canary=done))
    return part + _restore(d.after(part), stable), Stage.DONE


def _restore(d: Decided, stable: ObservedDeployment) -> Part:
    """Production's Deployment back at spec.serving.replicas."""
    if stable.replicas == d.spec.serving.replicas or d.spec.serving.autoscaling is not None:
        return NOTHING
    return Part(actions=(ScaleDeployment(stable.name, d.spec.serving.replicas),))


def _abort(d: Decided, progress: CanaryProgress, decision: Decision) -> Part:
    steps = d.spec.serving.strategy.steps or []
    version = progress.model_version
    where = f"step {progress.step + 1}/{len(steps)} ({progress.weight}%)"
    message = f"canary aborted at {where}: {decision.message}"
    part = _row(d, progress, decision, passed=False)
    part += bake.rolled_back(d.after(part), version, reason=Reason.CANARY_ABORTED, message=message)
    part += Part(status=d.after(part).with_status(canary=None))
    part += bake.scale_to_zero(d.obs.canary)
    if d.obs.deployment is not None:
        part += _restore(d, d.obs.deployment)
    return (
        part
        + emit(
            EventType.WARNING,
            Reason.CANARY_ABORTED,
            f"Canary of model {version} aborted at {where}: {decision.message}"[:1024],
        )
        + wake_after(1.0)
    )


def _row(d: Decided, progress: CanaryProgress, decision: Decision, *, passed: bool) -> Part:
    analysis = d.spec.serving.analysis
    bound = bake.describe_limits(analysis) if analysis else "pause only (no serving.analysis)"
    metric = f"canary {progress.weight}%"
    version = progress.model_version
    return bake.analysis_row(d, version, decision, metric=metric, bound=bound, passed=passed)


def _stepping(d: Decided, progress: CanaryProgress, words: str) -> Part:
    """Promoted=False CanaryStep: which step, its split, how it stands (Ready says so too)."""
    return condition(
        ConditionType.PROMOTED, "False", Reason.CANARY_STEP, _where(d, progress, words)
    ) + wake_after(POLL_SECONDS)


def _held(d: Decided, progress: CanaryProgress, decision: Decision) -> Part:
    """The step waits for readable evidence (bake.held)."""
    return bake.held(d, _where(d, progress, decision.message)) + wake_after(POLL_SECONDS)


def _where(d: Decided, progress: CanaryProgress, words: str) -> str:
    steps = d.spec.serving.strategy.steps or []
    pods = progress.canary_replicas + progress.stable_replicas
    return (
        f"canary of model {progress.model_version} at step {progress.step + 1}/{len(steps)}: "
        f"{progress.weight}% ({progress.canary_replicas} of {pods} pods); {words}"
    )[:2048]


def retire(d: Decided) -> Part:
    """After the canary (promoted, aborted, superseded or switched off): status.canary
    cleared, the canary Deployment at zero, production's at spec.serving.replicas."""
    progress = d.status.canary
    if progress is not None and d.rolling_out == progress.model_version:
        return NOTHING  # its steps run, or production is rolling to it: the canary serves
    part = NOTHING
    if progress is not None:
        part += Part(status=d.with_status(canary=None))
    part += bake.scale_to_zero(d.obs.canary)
    stable = d.obs.deployment
    if progress is not None and stable is not None and stable.owned:
        part += _restore(d, stable)
    return part
