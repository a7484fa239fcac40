"""Apply a plan: idempotent writes with deterministic names, then events, then status.

Order matters for restarts: child objects first (a duplicate create is an adoption,
409 AlreadyExists), then the decision's Events (named after the decision, so a repeat
is dropped: :mod:`modelpipe.k8s.events`), then the status that closes the decision,
metrics last. An operator killed between steps redoes the same decision on its next
pass: the writes and Events are found already there, nothing is told twice or lost.

A write the API server refuses as invalid (400/422) raises :class:`WriteRefused`; the
reconciler backs off and the plan says why (:mod:`modelpipe.planning.refusal`).
"""

from __future__ import annotations

import logging
from typing import Any

from modelpipe import metrics
from modelpipe.api.v1alpha1 import ModelPipelineStatus
from modelpipe.k8s import events
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.rest import JSON, MERGE_PATCH, ApiError
from modelpipe.manifests import job_owner_reference
from modelpipe.observed import Observed
from modelpipe.planning import (
    Action,
    CreateAutoscaler,
    CreateDeployment,
    CreateJob,
    CreateService,
    DeleteAutoscaler,
    DeleteJob,
    PatchDeployment,
    Plan,
    ScaleDeployment,
    UpdateAutoscaler,
    UpdateDeployment,
)

logger = logging.getLogger("modelpipe.executor")
# The API server's answers to a write that is invalid as made: retrying cannot help.
_REFUSED = frozenset({400, 422})


class WriteRefused(Exception):
    """The API server refused a write the plan asked for as invalid (400 or 422)."""

    def __init__(self, write: str, message: str) -> None:
        super().__init__(f"{write}: {message}")
        self.write, self.message = write, message


def execute(api: KubeApi, observed: Observed, plan: Plan, *, now: str) -> None:
    namespace, name = observed.metadata.namespace, observed.metadata.name
    for action in plan.actions:
        try:
            _apply(api, namespace, action)
        except ApiError as error:
            if error.status not in _REFUSED:
                raise
            raise WriteRefused(describe(action), error.message[:512]) from error
    for event in plan.events:
        events.post(api, observed, event, now=now)
    patch = status_patch(observed.status, plan.status)
    if patch:
        api.patch_pipeline_status(namespace, name, patch)
        metrics.API_WRITES.labels(namespace, "status").inc()
    metrics.record_samples(namespace, name, plan.samples)
    metrics.mirror_serving(namespace, name, plan.status.production)


def _apply(api: KubeApi, namespace: str, action: Action) -> None:
    kind = type(action).__name__
    metrics.API_WRITES.labels(namespace, kind).inc()
    if isinstance(action, CreateJob):
        _create_job(api, namespace, action)
    elif isinstance(action, DeleteJob):
        api.delete_job(namespace, action.name)
        logger.info("Deleted Job %s/%s (%s)", namespace, action.name, action.why)
    elif isinstance(action, CreateDeployment):
        created = api.create_deployment(namespace, action.manifest)
        logger.info("%s Deployment %s/%s", _created(created), namespace, _name(action.manifest))
    elif isinstance(action, CreateService):
        created = api.create_service(namespace, action.manifest)
        logger.info("%s Service %s/%s", _created(created), namespace, _name(action.manifest))
    elif isinstance(action, PatchDeployment):
        api.patch_deployment(namespace, action.name, action.patch)
        logger.info("Patched Deployment %s/%s to model %s", namespace, action.name, action.version)
    elif isinstance(action, UpdateDeployment):
        api.patch_deployment(namespace, action.name, action.patch, content_type=MERGE_PATCH)
        logger.info("Updated Deployment %s/%s to spec.serving", namespace, action.name)
    elif isinstance(action, ScaleDeployment):
        scale = {"spec": {"replicas": action.replicas}}
        api.patch_deployment(namespace, action.name, scale, content_type=MERGE_PATCH)
        logger.info("Scaled Deployment %s/%s to %d", namespace, action.name, action.replicas)
    else:
        _apply_autoscaler(api, namespace, action)


def _apply_autoscaler(
    api: KubeApi, namespace: str, action: CreateAutoscaler | UpdateAutoscaler | DeleteAutoscaler
) -> None:
    if isinstance(action, CreateAutoscaler):
        created = api.create_autoscaler(namespace, action.manifest)
        name = _name(action.manifest)
        logger.info("%s HorizontalPodAutoscaler %s/%s", _created(created), namespace, name)
    elif isinstance(action, UpdateAutoscaler):
        api.patch_autoscaler(namespace, action.name, action.patch)
        logger.info("Updated HorizontalPodAutoscaler %s/%s", namespace, action.name)
    else:
        api.delete_autoscaler(namespace, action.name, uid=action.uid)
        logger.info("Deleted HorizontalPodAutoscaler %s/%s", namespace, action.name)


def describe(action: Action) -> str:
    """The write in words, for the condition that says it was refused."""
    if isinstance(action, CreateJob):
        return f"create Job {action.name}"
    if isinstance(action, DeleteJob):
        return f"delete Job {action.name}"
    if isinstance(action, CreateDeployment):
        return f"create Deployment {_name(action.manifest)}"
    if isinstance(action, CreateService):
        return f"create Service {_name(action.manifest)}"
    if isinstance(action, CreateAutoscaler):
        return f"create HorizontalPodAutoscaler {_name(action.manifest)}"
    if isinstance(action, UpdateAutoscaler):
        return f"patch HorizontalPodAutoscaler {action.name}"
    if isinstance(action, DeleteAutoscaler):
        return f"delete HorizontalPodAutoscaler {action.name}"
    if isinstance(action, ScaleDeployment):
        return f"scale Deployment {action.name} to {action.replicas}"
    return f"patch Deployment {action.name}"


def _create_job(api: KubeApi, namespace: str, action: CreateJob) -> None:
    """The run config first (the pod mounts it), then the Job, then the Job owns the config.

    Killed in between, the next pass finds no Job and does it again: the pipeline's
    ConfigMap is brought up to date before the Job exists. A ConfigMap of that name that
    is not the pipeline's is left alone and no Job is created. One killed after the Job
    was created keeps the pipeline as the ConfigMap's owner: it goes with the pipeline.
    """
    config_map = action.config_map
    if config_map is not None and not api.create_config_map(namespace, config_map):
        pipeline_uid = config_map["metadata"]["ownerReferences"][0]["uid"]
        try:
            api.refresh_config_map(
                namespace, action.name, owner_uid=pipeline_uid, data=config_map["data"]
            )
        except ApiError as error:
            if error.status not in _REFUSED:  # 422: the owner test failed
                raise
            raise WriteRefused(
                describe(action),
                f"ConfigMap {action.name} exists and is not this pipeline's run config; "
                "it was left alone: remove or rename it",
            ) from error
    uid = api.create_job(namespace, action.manifest)
    logger.info("%s Job %s/%s", "Created" if uid else "Adopted existing", namespace, action.name)
    if config_map is not None and uid is not None:
        owner = job_owner_reference(name=action.name, uid=uid)
        api.patch_config_map(namespace, action.name, {"metadata": {"ownerReferences": [owner]}})


def _created(created: bool) -> str:
    # Another writer won the race: the next pass checks whose it is (planning.ownership).
    return "Created" if created else "Found existing (left alone)"


def _name(manifest: JSON) -> str:
    return str(manifest["metadata"]["name"])


def status_patch(before: ModelPipelineStatus, after: ModelPipelineStatus) -> JSON:
    """A JSON merge patch turning ``before`` into ``after`` (``{}`` when equal: no write)."""
    old = before.model_dump(mode="json", by_alias=True, exclude_none=True)
    new = after.model_dump(mode="json", by_alias=True, exclude_none=True)
    return merge_diff(old, new)


def merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 diff: removed keys become null, nested objects recurse, the rest is replaced."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = merge_diff(before, value)
            if nested:
                patch[key] = nested
        elif value != before:
            patch[key] = value
    return patch
