"""Read one pipeline's world into an :class:`~modelpipe.observed.Observed` value.

Reads only: the pipeline, its Jobs (by label, filtered by owner uid), the pods of
finished Jobs not yet judged (for the trainer's termination message), the serving
Deployment and Service, and the artifacts PVC; for a followed ``pvc://`` dataset
its claim and hash Jobs (``modelpipe.k8s.pvcdata``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pydantic import ValidationError

from modelpipe.api.config import UNCONFIGURED, OperatorConfig
from modelpipe.api.sources import SecretRef, SourceError, SourceKey, SourceKind
from modelpipe.api.v1alpha1 import (
    TRAINED_VERDICTS,
    Metadata,
    ModelPipelineSpec,
    ModelPipelineStatus,
    Verdict,
    all_runs,
)
from modelpipe.api.v1alpha1.status import SourceStatus
from modelpipe.inputs import Resolved
from modelpipe.k8s.analysis import observe_pod_metrics
from modelpipe.k8s.bodies import DeploymentBody, ObjectBody
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.jobs import label, observe_job
from modelpipe.k8s.notifier import Notifier
from modelpipe.k8s.pvcdata import is_hash_check, observe_checks
from modelpipe.k8s.rest import JSON, ApiError
from modelpipe.k8s.rollout import read_rollout_pods
from modelpipe.layout import (
    MODEL_VERSION_ANNOTATION,
    MODEL_VERSION_LABEL,
    PIPELINE_ANNOTATION,
    PIPELINE_LABEL,
    SERVING_HASH_ANNOTATION,
)
from modelpipe.manifests.canary import canary_name
from modelpipe.manifests.shadow import shadow_name
from modelpipe.observed import (
    KueueQueue,
    Observed,
    ObservedAutoscaler,
    ObservedDeployment,
    WebhookTarget,
)
from modelpipe.planning.accounts import (
    SERVING_ACCOUNT,
    TRAINING_ACCOUNT,
    AccountUse,
    refusal,
)
from modelpipe.planning.polling import PollState
from modelpipe.planning.pvcdata import pvc_follow
from modelpipe.planning.sourcestatus import source_status
from modelpipe.sources.credentials import Lent, lend, lend_url
from modelpipe.sources.follower import CODE, DATASET, SourceFollower, resolved

_JUDGED = TRAINED_VERDICTS | {
    Verdict.VALIDATION_FAILED,
    Verdict.CODE_VALIDATION_FAILED,
    Verdict.TRAINING_FAILED,
}


def observe(
    api: KubeApi,
    *,
    namespace: str,
    name: str,
    follower: SourceFollower | None = None,
    notifier: Notifier | None = None,
    config: OperatorConfig = UNCONFIGURED,
) -> Observed | None:
    """Everything plan() needs, or ``None`` when the pipeline is gone.

    The spec is parsed with the operator's ``config`` (its default image, its allowed
    PriorityClasses), which then travels on to plan() in ``Observed.config``.
    """
    body = api.get_pipeline(namespace, name)
    if body is None:
        return None
    metadata = Metadata.model_validate(body.get("metadata", {}))
    status = _status(body)
    spec, error = _spec(body, config)
    judged = {r.model_version for r in all_runs(status) if r.verdict in _JUDGED}
    owned = [
        job
        for job in api.list_jobs(namespace, f"{PIPELINE_LABEL}={name}")
        if job.metadata.owned_by(metadata.uid)
    ]
    jobs = tuple(
        observe_job(
            api, job, namespace=namespace, read_pods=label(job, MODEL_VERSION_LABEL) not in judged
        )
        for job in owned
        if not is_hash_check(job)
    )
    if spec is None:
        return Observed(
            metadata=metadata, status=status, spec=None, spec_error=error, jobs=jobs, config=config
        )
    deployment_name = spec.serving.deployment_name or name
    deployment = api.get_deployment(namespace, deployment_name)
    owns_serving = spec.serving.template is not None
    service = api.get_service(namespace, name) if owns_serving else None
    autoscaler = api.get_autoscaler(namespace, name) if owns_serving else None
    stepping = owns_serving and (spec.serving.strategy.canary or status.canary is not None)
    canary = api.get_deployment(namespace, canary_name(name)) if stepping else None
    shadowing = owns_serving and (spec.serving.strategy.shadowing or status.shadow is not None)
    shadow = api.get_deployment(namespace, shadow_name(name)) if shadowing else None
    shadow_service = api.get_service(namespace, shadow_name(name)) if shadowing else None
    lent = _lend_credentials(api, namespace=namespace, spec=spec)
    data_lent = _lend_dataset_credentials(api, namespace=namespace, spec=spec)
    values, rows, changes = _follow(
        follower, namespace=namespace, name=name, spec=spec, lent=(lent, data_lent)
    )
    if lent.error is not None and not any(row.name == CODE for row in rows):
        rows = (*rows, _refused_row(spec, namespace=namespace, error=lent.error))
    if data_lent.error is not None and not any(row.name == DATASET for row in rows):
        rows = (*rows, _refused_dataset_row(spec, namespace=namespace, error=data_lent.error))
    refused = lent.error or data_lent.error
    artifacts_lent = _lend_artifacts_credentials(api, namespace=namespace, name=name, spec=spec)
    follow_pvc = pvc_follow(spec)
    accounts = _accounts(api, namespace, spec)  # a missing one: ServiceAccountNotFound
    checks = (
        observe_checks(api, owned, namespace=namespace, pipeline=name, follow=follow_pvc)
        if follow_pvc
        else ()
    )
    return Observed(
        metadata=metadata,
        status=status,
        spec=spec,
        jobs=jobs,
        deployment=_observe_deployment(api, deployment, meta=metadata) if deployment else None,
        canary=_observe_deployment(api, canary, meta=metadata) if canary else None,
        shadow=_observe_deployment(api, shadow, meta=metadata) if shadow else None,
        shadow_service_exists=shadow_service is not None,
        shadow_service_owned=shadow_service is not None
        and shadow_service.metadata.controlled_by(metadata.uid),
        pod_metrics=observe_pod_metrics(
            api,
            namespace=namespace,
            spec=spec,
            status=status,
            deployment=deployment,
            shadow=shadow,
        ),
        service_exists=service is not None,
        service_owned=service is not None and service.metadata.controlled_by(metadata.uid),
        autoscaler=_autoscaler(autoscaler, uid=metadata.uid) if autoscaler else None,
        pvc_exists=spec.artifacts.pvc is None
        or api.get_pvc(namespace, spec.artifacts.pvc) is not None,
        service_account_exists=all(u.annotations is not None for u in accounts if u.training),
        resolved=values,
        sources=rows,
        source_changes=changes,
        dataset_checks=checks,
        dataset_claim_exists=follow_pvc is None
        or api.get_pvc(namespace, follow_pvc.claim) is not None,
        credentials_problem=refused.message if refused else None,
        artifacts_problem=artifacts_lent.error.message if artifacts_lent.error else None,
        service_account_problem=refusal(accounts, pipeline=name),
        # Read for a Job waiting in Kueue; for a Job about to be made, by k8s.queue.
        kueue=local_queue(api, namespace=namespace, spec=spec)
        if any(j.suspended for j in jobs)
        else None,
        webhooks=_webhook_targets(api, namespace=namespace, spec=spec),
        deliveries=notifier.finished(namespace, name) if notifier else (),
        config=config,
    )


def _lend_credentials(api: KubeApi, *, namespace: str, spec: ModelPipelineSpec) -> Lent:
    """What ``spec.code.git.credentialsSecret`` lends to the git URL (pinned or followed)."""
    git = spec.code.git
    if git is None or not git.credentials_secret:
        return Lent()
    return _read_and_lend(api, SecretRef(namespace, git.credentials_secret), urls=(git.url,))


def _lend_dataset_credentials(api: KubeApi, *, namespace: str, spec: ModelPipelineSpec) -> Lent:
    """What ``spec.dataset.credentialsSecret`` lends to its s3:// URIs (both must be covered)."""
    data = spec.dataset
    urls = tuple(u for u in (data.uri, data.evaluation and data.evaluation.uri) if u)
    s3_urls = tuple(u.split("?", 1)[0] for u in urls if u.startswith("s3://"))
    if not data.credentials_secret or not s3_urls:
        return Lent()
    return _read_and_lend(api, SecretRef(namespace, data.credentials_secret), urls=s3_urls)


def _lend_artifacts_credentials(
    api: KubeApi, *, namespace: str, name: str, spec: ModelPipelineSpec
) -> Lent:
    """What ``spec.artifacts.s3.credentialsSecret`` lends to the pipeline's own models.

    Covering ``s3://<bucket>/<prefix>/<namespace>/<pipeline>`` is enough, so a Secret made
    for one namespace can be held to that namespace's part of a shared bucket."""
    s3 = spec.artifacts.s3
    if s3 is None or not s3.credentials_secret:
        return Lent()
    ref = SecretRef(namespace, s3.credentials_secret)
    return _read_and_lend(api, ref, urls=(s3.pipeline_uri(namespace=namespace, pipeline=name),))


def local_queue(api: KubeApi, *, namespace: str, spec: ModelPipelineSpec) -> KueueQueue | None:
    """The LocalQueue spec.training.queueName names, in the pipeline's own namespace only.

    Read only when a Job waits in Kueue or is about to be made, not on every pass: a settled
    pipeline naming a queue costs no read."""
    name = spec.training.queue_name
    if name is None:
        return None
    body = api.get_local_queue(namespace, name)
    if body is None:
        return KueueQueue(name=name, exists=False)
    return KueueQueue(
        name=name,
        exists=True,
        cluster_queue=body.spec.cluster_queue,
        pending=body.status.pending_workloads,
    )


def _webhook_targets(
    api: KubeApi, *, namespace: str, spec: ModelPipelineSpec
) -> tuple[WebhookTarget, ...]:
    """Each ``spec.notify`` webhook's URL from its opted-in Secret, or why not."""
    if spec.notify is None:
        return ()
    targets = []
    for webhook in spec.notify.webhooks:
        ref = SecretRef(namespace, webhook.url_secret_ref.name)
        try:
            url, problem = lend_url(
                ref, api.get_secret(namespace, ref.name), key=webhook.url_secret_ref.key
            )
        except ApiError as error:  # e.g. forbidden by RBAC (rbac.readSecrets=false)
            url, problem = "", f"cannot read Secret {ref.name}: {error.reason}"
        targets.append(WebhookTarget(webhook.name, url=url, problem=problem))
    return tuple(targets)


def _read_and_lend(api: KubeApi, ref: SecretRef, *, urls: tuple[str, ...]) -> Lent:
    try:
        secret = api.get_secret(ref.namespace, ref.name)
    except ApiError as error:  # e.g. forbidden by RBAC (rbac.readSecrets=false)
        return lend(ref, None, url=urls[0], problem=f"cannot read Secret {ref}: {error.reason}")
    lent = Lent()
    for url in urls:
        lent = lend(ref, secret, url=url)
        if lent.error is not None:
            return lent
    return lent


def _refused_row(spec: ModelPipelineSpec, *, namespace: str, error: SourceError) -> SourceStatus:
    """A pinned git source whose Secret cannot be used still shows on SourcesReady."""
    git = spec.code.git
    assert git is not None and git.credentials_secret
    key = SourceKey(SourceKind.GIT, git.url, secret=SecretRef(namespace, git.credentials_secret))
    return source_status(CODE, key, PollState(error=error))


def _refused_dataset_row(
    spec: ModelPipelineSpec, *, namespace: str, error: SourceError
) -> SourceStatus:
    """A pinned s3:// dataset whose Secret cannot be used still shows on SourcesReady."""
    secret = SecretRef(namespace, spec.dataset.credentials_secret or "")
    key = SourceKey(SourceKind.S3, spec.dataset.uri, secret=secret)
    return source_status(DATASET, key, PollState(error=error))


def _accounts(api: KubeApi, namespace: str, spec: ModelPipelineSpec) -> tuple[AccountUse, ...]:
    """Each ServiceAccount the spec names for pods running the author's image, as read."""
    template = spec.serving.template
    named = [
        (TRAINING_ACCOUNT, spec.training.service_account_name),
        (SERVING_ACCOUNT, template and template.service_account_name),
    ]
    uses = []
    for field, name in named:
        if name:
            found = api.get_service_account(namespace, name)
            annotations = None if found is None else dict(found.metadata.annotations)
            uses.append(AccountUse(field, name, annotations))
    return tuple(uses)


def _follow(
    follower: SourceFollower | None,
    *,
    namespace: str,
    name: str,
    spec: ModelPipelineSpec,
    lent: tuple[Lent, Lent],
) -> tuple[Resolved | None, tuple[SourceStatus, ...], tuple[datetime, ...]]:
    """The followed sources' latest answers (cached by the pollers, no request here)."""
    if follower is None:
        return None, (), ()
    code, dataset = lent
    snapshots = follower.sync(
        namespace=namespace,
        name=name,
        spec=spec,
        code_credentials=code,
        dataset_credentials=dataset,
    )
    values, rows = resolved(snapshots)
    changes = sorted(t for snap in snapshots.values() for t in snap.state.change_times)
    return values, tuple(rows), tuple(changes)


def _spec(body: JSON, config: OperatorConfig) -> tuple[ModelPipelineSpec | None, str | None]:
    try:
        return ModelPipelineSpec.model_validate(body.get("spec") or {}, context=config), None
    except ValidationError as error:
        problems = [f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5]]
        return None, "; ".join(problems)


def _status(body: JSON) -> ModelPipelineStatus:
    """The last written status; unreadable status (an older schema) starts afresh."""
    try:
        return ModelPipelineStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return ModelPipelineStatus()


def _autoscaler(body: ObjectBody, *, uid: str) -> ObservedAutoscaler:
    return ObservedAutoscaler(
        uid=body.metadata.uid,
        owned=body.metadata.controlled_by(uid),
        serving_hash=body.metadata.annotations.get(SERVING_HASH_ANNOTATION),
    )


def _observe_deployment(
    api: KubeApi, body: DeploymentBody, *, meta: Metadata
) -> ObservedDeployment:
    observed = _deployment(body, meta=meta)
    if not observed.progress_deadline_exceeded:
        return observed
    pods = read_rollout_pods(api, meta.namespace, body)
    return replace(observed, restarts=pods.restarts, crash=pods.crash)


def _deployment(body: DeploymentBody, *, meta: Metadata) -> ObservedDeployment:
    found, spec, status = body.metadata, body.spec, body.status
    template = spec.template
    return ObservedDeployment(
        name=found.name,
        owned=found.controlled_by(meta.uid),
        opted_in=found.annotations.get(PIPELINE_ANNOTATION) == meta.name,
        generation=found.generation,
        observed_generation=status.observed_generation,
        replicas=spec.replicas,
        updated_replicas=status.updated_replicas,
        total_replicas=status.replicas,
        ready_replicas=status.ready_replicas,
        available_replicas=status.available_replicas,
        template_version=template.metadata.annotations.get(MODEL_VERSION_ANNOTATION),
        serving_hash=found.annotations.get(SERVING_HASH_ANNOTATION),
        containers=tuple(c.name for c in template.spec.containers),
        node_selector_keys=tuple(template.spec.node_selector),
        progress_deadline_seconds=spec.progress_deadline_seconds,
        progress_deadline_exceeded=any(
            c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded"
            for c in status.conditions
        ),
    )
