"""Checks that decide what serves: promotion, rollout, automatic rollback and pinning.

    candidate passed the gate ──patch template──▶ rolling out ──all replicas ready──▶ production
                                                      │
                                        progress deadline exceeded
                                                      ▼
                           candidate RolledBack ──patch template──▶ previous production

The serving target is, in order: ``spec.serving.pinnedVersion`` (automatic promotion
paused); else the newest run that passed the gate or was promoted and not rolled back;
else the current production model. Production only changes once a rollout completes.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelpipe.api.v1alpha1 import (
    ConditionType,
    CurrentRun,
    Production,
    Reason,
    RunPhase,
    RunRecord,
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
from modelpipe.manifests.s3model import own_run_uri
from modelpipe.observed import ObservedDeployment
from modelpipe.planning import bake, retry
from modelpipe.planning.clock import seconds_between
from modelpipe.planning.draft import Draft
from modelpipe.planning.outcome import (
    CreateDeployment,
    CreateService,
    EventType,
    PatchDeployment,
    Promotion,
    UpdateDeployment,
)
from modelpipe.planning.ownership import serving_conflict

_CANDIDATES = (Verdict.PASSED, Verdict.HELD, Verdict.PROMOTED)


@dataclass(frozen=True)
class Target:
    version: str
    record: RunRecord | None
    why: Reason  # PROMOTED (gate passed), PINNED, or ROLLED_BACK (keep / return to production)


def choose_target(d: Draft) -> Target | None:
    retry.retry_rollout(d)
    pinned = d.spec.serving.pinned_version
    if pinned:
        return _pinned_target(d, pinned)
    production = d.status.production
    if not d.spec.suspend:
        for record in d.status.history:
            if record.verdict == Verdict.HELD:
                record.verdict, record.reason, record.message = (
                    Verdict.PASSED,
                    Reason.GATE_PASSED,
                    "",
                )
            if record.verdict in _CANDIDATES:
                return Target(record.model_version, record, Reason.PROMOTED)
    if production is not None:
        return Target(
            production.model_version, d.find(production.model_version), Reason.ROLLED_BACK
        )
    return None


def _pinned_target(d: Draft, pinned: str) -> Target | None:
    production = d.status.production
    for run in d.status.history:
        if run.verdict == Verdict.PASSED:
            run.verdict, run.reason = Verdict.HELD, Reason.PINNED
            run.message = f"passed the gate; held while pinned to {pinned}"
    record = d.find(pinned)
    if record is not None and record.verdict == Verdict.ROLLED_BACK:
        d.condition(
            ConditionType.PROMOTED,
            "False",
            Reason.PINNED,
            f"pinned model {pinned} was rolled back: {record.message}",
        )
        return Target(production.model_version, None, Reason.ROLLED_BACK) if production else None
    trained = record is not None and (record.metrics or record.verdict == Verdict.PROMOTED)
    if trained or (production is not None and production.model_version == pinned):
        d.condition(
            ConditionType.PROMOTED,
            "False",
            Reason.PINNED,
            f"automatic promotion paused: spec.serving.pinnedVersion is {pinned}",
        )
        return Target(pinned, record, Reason.PINNED)
    known = ", ".join(r.model_version for r in d.status.history if r.metrics) or "none"
    d.block(
        Reason.PINNED_VERSION_UNKNOWN,
        f"spec.serving.pinnedVersion {pinned} is not a trained version in status.history "
        f"(known: {known})",
        requeue_after=None,
    )
    return Target(production.model_version, None, Reason.ROLLED_BACK) if production else None


def converge_serving(d: Draft) -> None:
    """Bring the serving Deployment to the target version, or judge the rollout under way."""
    target = choose_target(d)
    conflict = serving_conflict(d.obs)
    if conflict is not None:  # not ours to write: say so, touch nothing
        d.block(Reason.DEPLOYMENT_CONFLICT, conflict)
        d.condition(ConditionType.PROMOTED, "False", Reason.DEPLOYMENT_CONFLICT, conflict)
        return
    if d.obs.service_account_problem:  # the serving image would run as that account
        d.block(Reason.SERVICE_ACCOUNT_REFUSED, d.obs.service_account_problem, requeue_after=60.0)
        return
    if d.obs.artifacts_problem:  # the download would mount a Secret that has not opted in
        d.block(Reason.CREDENTIALS_REFUSED, d.obs.artifacts_problem, requeue_after=60.0)
        return
    if target is None:
        return
    deployment = d.obs.deployment
    if deployment is None:
        _create_or_block(d, target)
        return
    container = d.spec.serving.container_name or (
        deployment.containers[0] if deployment.containers else SERVE_CONTAINER
    )
    if container not in deployment.containers:
        d.block(
            Reason.CONTAINER_NOT_FOUND,
            f"Deployment {deployment.name} has no container {container}: "
            "fix spec.serving.containerName",
        )
        return
    if d.spec.serving.template is not None and not d.obs.service_exists:
        d.actions.append(CreateService(serving_service(meta=d.obs.metadata, spec=d.spec)))
    apply_serving_edits(d, deployment, target)
    production = d.status.production
    retry_in_place = d.retrying == target.version and deployment.rollout_failed
    if deployment.template_version != target.version or retry_in_place:
        _roll(d, deployment, target, container)
    elif deployment.rollout_failed:
        _rollback(d, deployment, target, container)
    elif deployment.rolled_out or (production and production.model_version == target.version):
        # Also while an edit of spec.serving rolls: the old pods serve the same model.
        _settle_production(d, target)
    else:
        _mark_rolling(d, target)


def apply_serving_edits(d: Draft, deployment: ObservedDeployment, target: Target) -> None:
    """Bring a Deployment the operator owns to spec.serving (replicas, image, resources ...).

    Compared by hash, so a Deployment scaled by hand is left alone until the spec
    itself changes; the model it serves stays as it is (promotion is a separate step).
    """
    if d.spec.serving.template is None or not deployment.owned:
        return
    if deployment.serving_hash == serving_hash(
        meta=d.obs.metadata, spec=d.spec, config=d.obs.config
    ):
        return
    version = deployment.template_version or target.version
    path = model_dir(pipeline=d.obs.metadata.name, version=version)
    patch = template_patch(
        meta=d.obs.metadata,
        spec=d.spec,
        version=version,
        model_dir=path,
        model_uri=stored_model_uri(d, version),
        node_selector_keys=deployment.node_selector_keys,
        config=d.obs.config,
    )
    d.actions.append(UpdateDeployment(deployment.name, patch))
    d.emit(
        EventType.NORMAL,
        Reason.SERVING_UPDATED,
        f"Applied spec.serving to Deployment {deployment.name} (model {version} unchanged)",
    )


def _create_or_block(d: Draft, target: Target) -> None:
    if d.spec.serving.template is None:
        d.block(
            Reason.DEPLOYMENT_NOT_FOUND,
            f"Deployment {d.spec.serving.deployment_name} not found in namespace "
            f"{d.obs.metadata.namespace}: create it or use spec.serving.template",
        )
        return
    path = model_dir(pipeline=d.obs.metadata.name, version=target.version)
    manifest = serving_deployment(
        meta=d.obs.metadata,
        spec=d.spec,
        version=target.version,
        model_dir=path,
        config=d.obs.config,
        model_uri=stored_model_uri(d, target.version),
    )
    d.actions.append(CreateDeployment(manifest))
    if not d.obs.service_exists:
        d.actions.append(CreateService(serving_service(meta=d.obs.metadata, spec=d.spec)))
    d.emit(
        EventType.NORMAL,
        Reason.ROLLING_OUT,
        f"Created Deployment {d.obs.metadata.name} serving model {target.version}",
    )
    _mark_rolling(d, target)


def _roll(
    d: Draft,
    deployment: ObservedDeployment,
    target: Target,
    container: str,
    *,
    announce: bool = True,
) -> None:
    path = model_dir(pipeline=d.obs.metadata.name, version=target.version)
    patch = promotion_patch(
        pipeline=d.obs.metadata.name,
        container=container,
        version=target.version,
        model_dir=path,
        model_uri=stored_model_uri(d, target.version),
    )
    if target.record is not None and target.record.rollout_attempts:
        # A new pod template, so a retry rolls anew even onto the same model version.
        pod = patch["spec"]["template"]["metadata"]
        attempt = str(target.record.rollout_attempts + 1)
        pod["annotations"] = {**pod["annotations"], ROLLOUT_ATTEMPT_ANNOTATION: attempt}
    d.actions.append(PatchDeployment(deployment.name, target.version, patch))
    if announce:
        d.emit(
            EventType.NORMAL,
            Reason.ROLLING_OUT,
            f"Rolling out model {target.version} to Deployment {deployment.name}",
        )
    _mark_rolling(d, target)


def _mark_rolling(d: Draft, target: Target) -> None:
    d.rolling_out = target.version
    record = target.record
    if record is not None and target.why == Reason.PROMOTED and record.verdict != Verdict.PROMOTED:
        d.status.current_run = CurrentRun(
            model_version=record.model_version,
            job_name=record.job_name,
            input_hash=record.input_hash,
            phase=RunPhase.ROLLING_OUT,
            start_time=record.start_time,
        )
    d.condition(
        ConditionType.PROMOTED, "False", Reason.ROLLING_OUT, f"rolling out model {target.version}"
    )
    if d.spec.serving.pinned_version:
        d.condition(
            ConditionType.PROMOTED,
            "False",
            Reason.PINNED,
            f"rolling out pinned model {target.version}; automatic promotion paused",
        )


def _rollback(d: Draft, deployment: ObservedDeployment, target: Target, container: str) -> None:
    production = d.status.production
    deadline = d.spec.serving.progress_deadline_seconds
    if production is not None and production.model_version == target.version:
        return  # production's own rollout: Degraded (planning.summary), never rolled back
    next_step = ""
    if target.record is not None:
        target.record.verdict, target.record.reason = Verdict.ROLLED_BACK, Reason.ROLLOUT_FAILED
        next_step = f"; {retry.after_failed_rollout(d, target.record)}"
        target.record.message = f"{rollout_failure(deployment, deadline)}{next_step}"
    d.emit(
        EventType.WARNING,
        Reason.ROLLOUT_FAILED,
        f"Model {target.version} did not become ready on Deployment {deployment.name}: "
        f"{rollout_failure(deployment, deadline)}{next_step}",
    )
    if production is None:
        return
    back = Target(production.model_version, None, Reason.ROLLED_BACK)
    _roll(d, deployment, back, container, announce=False)
    d.emit(
        EventType.WARNING,
        Reason.ROLLED_BACK,
        f"Rolled back Deployment {deployment.name} to model {production.model_version}",
    )


def _settle_production(d: Draft, target: Target) -> None:
    production = d.status.production
    if production is None or production.model_version != target.version:
        d.status.production = _production(d, target)
        if target.why == Reason.PROMOTED:
            bake.start_bake(d, replaced=production)
        reason = Reason.PINNED if target.why == Reason.PINNED else Reason.PROMOTED
        d.emit(
            EventType.NORMAL,
            reason,
            f"Model {target.version} is serving ({d.status.production.reason})",
        )
        inputs = d.status.inputs
        lead = None
        if (
            target.record is not None
            and inputs is not None
            and inputs.hash == target.record.input_hash
        ):
            lead = seconds_between(inputs.observed_at, d.now)
        metrics = dict(target.record.metrics) if target.record else {}
        d.samples.append(
            Promotion(target.version, metrics, lead if target.why == Reason.PROMOTED else None)
        )
    if target.record is not None and target.why == Reason.PROMOTED:
        target.record.verdict, target.record.reason = Verdict.PROMOTED, Reason.PROMOTED
        target.record.message = "serving"
    if target.why != Reason.PINNED:
        d.condition(
            ConditionType.PROMOTED, "True", Reason.PROMOTED, f"model {target.version} is serving"
        )


def _production(d: Draft, target: Target) -> Production:
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


def stored_model_uri(d: Draft, version: str) -> str | None:
    """With spec.artifacts.s3, where ``version`` was uploaded ("" if nowhere known); else None."""
    s3 = d.spec.artifacts.s3
    if s3 is None:
        return None
    record, production = d.find(version), d.status.production
    found = record.model_uri if record is not None else None
    if not found and production is not None and production.model_version == version:
        found = production.model_uri
    return own_run_uri(found, s3, pipeline=d.obs.metadata.name, version=version)


def rollout_failure(deployment: ObservedDeployment, deadline: int) -> str:
    """Why the new pods missed the deadline: crashing and slow to start need different fixes."""
    if deployment.crash is not None or deployment.restarts > 0:
        last = f"; last: {deployment.crash}" if deployment.crash else ""
        return (
            f"serving pods kept crashing ({deployment.restarts} restarts{last}) and were "
            f"not ready within {deadline}s (ProgressDeadlineExceeded); see the pods' logs"
        )
    return (
        f"serving pods were running but not ready within {deadline}s "
        "(ProgressDeadlineExceeded; slow to start, not crashing): on a busy node raise "
        "spec.serving.progressDeadlineSeconds"
    )
