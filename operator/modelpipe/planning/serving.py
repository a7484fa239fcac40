"""Checks that decide what serves: promotion, rollout, automatic rollback and pinning.

    candidate passed the gate ──patch template──▶ rolling out ──all replicas ready──▶ production
                                                      │
                                        progress deadline exceeded
                                                      ▼
                           candidate RolledBack ──patch template──▶ previous production

The serving target is chosen by planning.target. Production only changes once a rollout
completes.
"""

from __future__ import annotations

from modelpipe.api.v1alpha1 import (
    ConditionType,
    CurrentRun,
    Production,
    Reason,
    RunPhase,
    Verdict,
)
from modelpipe.layout import ROLLOUT_ATTEMPT_ANNOTATION, SERVE_CONTAINER, model_dir
from modelpipe.manifests import (
    promotion_patch,
    serving_deployment,
    serving_hash,
    serving_service,
    template_patch,
)
from modelpipe.observed import ObservedDeployment
from modelpipe.planning import bake, canary, retry, shadow
from modelpipe.planning.autoscaling import converge_autoscaler
from modelpipe.planning.clock import seconds_between
from modelpipe.planning.deadline import (
    SPEC_FIELD,
    ProgressDeadline,
    deadline_of,
    missed_deadline,
)
from modelpipe.planning.draft import NOTHING, Decided, Part, block, condition, emit
from modelpipe.planning.outcome import (
    CreateDeployment,
    CreateService,
    EventType,
    PatchDeployment,
    Promotion,
    UpdateDeployment,
)
from modelpipe.planning.ownership import serving_conflict
from modelpipe.planning.stored import stored_here, stored_model_uri
from modelpipe.planning.target import Target, choose_target


def converge_serving(d: Decided) -> Part:
    """Bring the serving Deployment to the target version, or judge the rollout under way."""
    part = retry.retry_rollout(d)
    target, chosen = choose_target(d.after(part))
    part += chosen
    return part + _converge(d.after(part), target)


def _converge(d: Decided, target: Target | None) -> Part:
    conflict = serving_conflict(d.obs)
    if conflict is not None:  # not ours to write: say so, touch nothing
        return block(d, Reason.DEPLOYMENT_CONFLICT, conflict) + condition(
            ConditionType.PROMOTED, "False", Reason.DEPLOYMENT_CONFLICT, conflict
        )
    if d.obs.service_account_problem:  # the serving image would run as that account
        problem = d.obs.service_account_problem
        return block(d, Reason.SERVICE_ACCOUNT_REFUSED, problem, requeue_after=60.0)
    if d.obs.artifacts_problem:  # the download would mount a Secret that has not opted in
        return block(d, Reason.CREDENTIALS_REFUSED, d.obs.artifacts_problem, requeue_after=60.0)
    if target is None:
        return NOTHING
    deployment = d.obs.deployment
    if deployment is None:
        return _create_or_block(d, target)
    container = d.spec.serving.container_name or (
        deployment.containers[0] if deployment.containers else SERVE_CONTAINER
    )
    if container not in deployment.containers:
        return block(
            d,
            Reason.CONTAINER_NOT_FOUND,
            f"Deployment {deployment.name} has no container {container}: "
            "fix spec.serving.containerName",
        )
    part = shadow.claim_service(d)
    if d.spec.serving.template is not None and not d.obs.service_exists:
        part += Part(actions=(CreateService(serving_service(meta=d.obs.metadata, spec=d.spec)),))
    part += apply_serving_edits(d, deployment, target) + converge_autoscaler(d)
    d = d.after(part)
    production = d.status.production
    retry_in_place = d.retrying == target.version and deployment.rollout_failed
    if deployment.template_version != target.version or retry_in_place:
        trial = _trial(d, deployment, target)
        if trial is not None:
            stepped, stage = trial
            part += stepped
            if stage is canary.Stage.ABORTED:  # the next pass keeps production (target)
                return part
            if stage is canary.Stage.STEPPING:  # beside production: Promoted says how it stands
                said = Part(conditions=stepped.conditions)  # the step's words win over RollingOut
                return part + _mark_rolling(d.after(part), target) + said
        return part + _roll(d.after(part), deployment, target, container)
    if deployment.rollout_failed:
        return part + _rollback(d, deployment, target, container)
    if deployment.rolled_out or (production and production.model_version == target.version):
        # Also while an edit of spec.serving rolls: the old pods serve the same model.
        return part + _settle_production(d, target)
    return part + _mark_rolling(d, target)


def _trial(
    d: Decided, deployment: ObservedDeployment, target: Target
) -> tuple[Part, canary.Stage] | None:
    """A canary's or a shadow's part of this pass, when the strategy runs one for ``target``."""
    if canary.applies(d, target):
        return canary.advance(d, deployment, target)
    if shadow.applies(d, target):
        return shadow.advance(d, target)
    return None


def apply_serving_edits(d: Decided, deployment: ObservedDeployment, target: Target) -> Part:
    """Bring a Deployment the operator owns to spec.serving (replicas, image, resources ...).

    Compared by hash, so a Deployment scaled by hand is left alone until the spec
    itself changes; the model it serves stays as it is (promotion is a separate step).
    """
    if d.spec.serving.template is None or not deployment.owned:
        return NOTHING
    mirror = shadow.mirrors(d)
    if deployment.serving_hash == serving_hash(
        meta=d.obs.metadata, spec=d.spec, config=d.obs.config, mirror=mirror
    ):
        return NOTHING
    version = deployment.template_version or target.version
    if not stored_here(d, version):  # served from the store spec.artifacts named before
        if not stored_here(d, target.version):
            return NOTHING  # held until a model in the new store is promoted (see _roll)
        version = target.version  # that promotion brings the new store's layout along
    path = model_dir(pipeline=d.obs.metadata.name, version=version)
    patch = template_patch(
        meta=d.obs.metadata,
        spec=d.spec,
        version=version,
        model_dir=path,
        model_uri=stored_model_uri(d, version),
        node_selector_keys=deployment.node_selector_keys,
        config=d.obs.config,
        mirror=mirror,
        progress_deadline=_deadline(d, version).seconds,
    )
    return Part(actions=(UpdateDeployment(deployment.name, patch),)) + emit(
        EventType.NORMAL,
        Reason.SERVING_UPDATED,
        f"Applied spec.serving to Deployment {deployment.name} (model {version} unchanged)",
    )


def _create_or_block(d: Decided, target: Target) -> Part:
    if d.spec.serving.template is None:
        return block(
            d,
            Reason.DEPLOYMENT_NOT_FOUND,
            f"Deployment {d.spec.serving.deployment_name} not found in namespace "
            f"{d.obs.metadata.namespace}: create it or use spec.serving.template",
        )
    path = model_dir(pipeline=d.obs.metadata.name, version=target.version)
    manifest = serving_deployment(
        meta=d.obs.metadata,
        spec=d.spec,
        version=target.version,
        model_dir=path,
        config=d.obs.config,
        model_uri=stored_model_uri(d, target.version),
        mirror=shadow.mirrors(d),
        progress_deadline=_deadline(d, target.version).seconds,
    )
    service = (
        ()
        if d.obs.service_exists
        else (CreateService(serving_service(meta=d.obs.metadata, spec=d.spec)),)
    )
    part = Part(actions=(CreateDeployment(manifest), *service)) + converge_autoscaler(d)
    part += shadow.claim_service(d)
    part += emit(
        EventType.NORMAL,
        Reason.ROLLING_OUT,
        f"Created Deployment {d.obs.metadata.name} serving model {target.version}",
    )
    return part + _mark_rolling(d.after(part), target)


def _roll(
    d: Decided,
    deployment: ObservedDeployment,
    target: Target,
    container: str,
    *,
    announce: bool = True,
) -> Part:
    if not stored_here(d, target.version):
        # Its model is in the store spec.artifacts named before (a PVC, or an S3 path the
        # spec no longer covers): its pods keep serving (maxUnavailable 0) and nothing is
        # patched until a model in the new store is promoted.
        return NOTHING
    path = model_dir(pipeline=d.obs.metadata.name, version=target.version)
    patch = promotion_patch(
        pipeline=d.obs.metadata.name,
        container=container,
        version=target.version,
        model_dir=path,
        model_uri=stored_model_uri(d, target.version),
        # A user's Deployment keeps its own deadline, as it keeps everything but the model.
        progress_deadline=_deadline(d, target.version).seconds if deployment.owned else None,
    )
    if target.record is not None and target.record.rollout_attempts:
        # A new pod template, so a retry rolls anew even onto the same model version.
        pod = patch["spec"]["template"]["metadata"]
        attempt = str(target.record.rollout_attempts + 1)
        pod["annotations"] = {**pod["annotations"], ROLLOUT_ATTEMPT_ANNOTATION: attempt}
    part = Part(actions=(PatchDeployment(deployment.name, target.version, patch),))
    if announce:
        part += emit(
            EventType.NORMAL,
            Reason.ROLLING_OUT,
            f"Rolling out model {target.version} to Deployment {deployment.name}",
        )
    return part + _mark_rolling(d.after(part), target)


def _mark_rolling(d: Decided, target: Target) -> Part:
    part = Part(rolling_out=target.version)
    record = target.record
    if record is not None and target.why == Reason.PROMOTED and record.verdict != Verdict.PROMOTED:
        rolling = CurrentRun(
            model_version=record.model_version,
            job_name=record.job_name,
            input_hash=record.input_hash,
            phase=RunPhase.ROLLING_OUT,
            start_time=record.start_time,
        )
        part += Part(status=d.with_status(current_run=rolling))
    part += condition(
        ConditionType.PROMOTED, "False", Reason.ROLLING_OUT, f"rolling out model {target.version}"
    )
    if d.spec.serving.pinned_version:
        part += condition(
            ConditionType.PROMOTED,
            "False",
            Reason.PINNED,
            f"rolling out pinned model {target.version}; automatic promotion paused",
        )
    return part


def _rollback(d: Decided, deployment: ObservedDeployment, target: Target, container: str) -> Part:
    production = d.status.production
    if production is not None and production.model_version == target.version:
        return NOTHING  # production's own rollout: Degraded (planning.summary), never rolled back
    deadline = missed_deadline(
        spec=d.spec, record=d.find(target.version), config=d.obs.config, deployment=deployment
    )
    failure = rollout_failure(deployment, deadline)
    next_step = ""
    part = NOTHING
    if target.record is not None:
        counted, words, retry_wake = retry.after_failed_rollout(target.record, now=d.now)
        next_step = f"; {words}"
        failed = counted.model_copy(
            update={
                "verdict": Verdict.ROLLED_BACK,
                "reason": Reason.ROLLOUT_FAILED,
                "message": f"{failure}{next_step}",
            }
        )
        part += Part(status=d.with_record(failed)) + retry_wake
    part += emit(
        EventType.WARNING,
        Reason.ROLLOUT_FAILED,
        f"Model {target.version} did not become ready on Deployment {deployment.name}: "
        f"{failure}{next_step}",
    )
    if production is None:
        return part
    back = Target(production.model_version, None, Reason.ROLLED_BACK)
    if not stored_here(d, back.version):
        return part + emit(
            EventType.WARNING,
            Reason.ROLLED_BACK,
            f"Deployment {deployment.name} keeps the pods of model {back.version}: that "
            "model is not in the store spec.artifacts names, so the Deployment is not "
            "rolled back to it; its pods serve until a model in that store is promoted",
        )
    part += _roll(d.after(part), deployment, back, container, announce=False)
    return part + emit(
        EventType.WARNING,
        Reason.ROLLED_BACK,
        f"Rolled back Deployment {deployment.name} to model {production.model_version}",
    )


def _settle_production(d: Decided, target: Target) -> Part:
    production = d.status.production
    part = NOTHING
    if production is None or production.model_version != target.version:
        part += Part(status=d.with_status(production=_production(d, target)))
        if target.why == Reason.PROMOTED:
            part += bake.start_bake(d.after(part), replaced=production)
        serving = d.after(part).status.production
        assert serving is not None
        reason = Reason.PINNED if target.why == Reason.PINNED else Reason.PROMOTED
        part += emit(
            EventType.NORMAL, reason, f"Model {target.version} is serving ({serving.reason})"
        )
        part += Part(samples=(_promotion(d, target),))
    if target.record is not None and target.why == Reason.PROMOTED:
        promoted = target.record.model_copy(
            update={"verdict": Verdict.PROMOTED, "reason": Reason.PROMOTED, "message": "serving"}
        )
        part += Part(status=d.after(part).with_record(promoted))
    if target.why != Reason.PINNED:
        part += condition(
            ConditionType.PROMOTED, "True", Reason.PROMOTED, f"model {target.version} is serving"
        )
    return part


def _promotion(d: Decided, target: Target) -> Promotion:
    """The sample of a new production model; the lead time counts for a promotion only."""
    inputs = d.status.inputs
    lead = None
    if target.record is not None and inputs is not None and inputs.hash == target.record.input_hash:
        lead = seconds_between(inputs.observed_at, d.now)
    metrics = dict(target.record.metrics) if target.record else {}
    return Promotion(target.version, metrics, lead if target.why == Reason.PROMOTED else None)


def _production(d: Decided, target: Target) -> Production:
    record = target.record
    why = {
        Reason.PROMOTED: "passed the gate",
        Reason.PINNED: "pinned by spec.serving.pinnedVersion",
        Reason.ROLLED_BACK: "restored as the last good model",
    }[target.why]
    return Production(
        model_version=target.version,
        code_revision=record.code_revision if record else None,
        dataset_version=record.dataset_version if record else None,
        data_hash=record.data_hash if record else None,
        input_hash=record.input_hash if record else None,
        metrics=dict(record.metrics) if record else {},
        model_dir=model_dir(pipeline=d.obs.metadata.name, version=target.version),
        model_uri=stored_model_uri(d, target.version),
        promoted_at=d.now,
        reason=why,
    )


def _deadline(d: Decided, version: str) -> ProgressDeadline:
    """The rollout deadline of ``version``, by the runtime its run recorded."""
    return deadline_of(spec=d.spec, record=d.find(version), config=d.obs.config)


def rollout_failure(deployment: ObservedDeployment, deadline: ProgressDeadline) -> str:
    """Why the new pods missed the deadline: crashing and slow to start need different fixes.
    Both say which deadline it was and where it came from (planning.deadline)."""
    within = f"not ready within {deadline.seconds}s ({deadline.source}; ProgressDeadlineExceeded"
    if deployment.crash is not None or deployment.restarts > 0:
        last = f"; last: {deployment.crash}" if deployment.crash else ""
        return (
            f"serving pods kept crashing ({deployment.restarts} restarts{last}) and were "
            f"{within}); see the pods' logs"
        )
    field = SPEC_FIELD if deployment.owned else f"Deployment {deployment.name}'s deadline"
    return (
        f"serving pods were running but {within}; slow to start, not crashing): "
        f"on a busy node raise {field}"
    )
