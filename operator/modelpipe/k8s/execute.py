"""Apply a plan: idempotent writes with deterministic names, then status, then events.

Order matters for restarts: child objects first (a duplicate create is an adoption,
409 AlreadyExists), status second, events and metrics last, so an operator killed
between steps redoes at most the idempotent part and never announces twice what it
did not record.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from modelpipe import metrics
from modelpipe.api.v1alpha1 import API_VERSION, KIND, ModelPipelineStatus
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.rest import JSON, MERGE_PATCH
from modelpipe.observed import Observed
from modelpipe.planning import (
    Action,
    CreateDeployment,
    CreateJob,
    CreateService,
    DeleteJob,
    Event,
    PatchDeployment,
    Plan,
    UpdateDeployment,
)

logger = logging.getLogger("modelpipe.executor")
COMPONENT = "modelpipe-operator"


def execute(api: KubeApi, observed: Observed, plan: Plan, *, now: str) -> None:
    namespace, name = observed.metadata.namespace, observed.metadata.name
    for action in plan.actions:
        _apply(api, namespace, action)
    patch = status_patch(observed.status, plan.status)
    if patch:
        api.patch_pipeline_status(namespace, name, patch)
        metrics.API_WRITES.labels(namespace, "status").inc()
    for event in plan.events:
        _post(api, observed, event, now=now)
    metrics.record_samples(namespace, name, plan.samples)
    metrics.mirror_serving(namespace, name, plan.status.production)


def _apply(api: KubeApi, namespace: str, action: Action) -> None:
    kind = type(action).__name__
    metrics.API_WRITES.labels(namespace, kind).inc()
    if isinstance(action, CreateJob):
        created = api.create_job(namespace, action.manifest)
        logger.info(
            "%s Job %s/%s", "Created" if created else "Adopted existing", namespace, action.name
        )
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


def _post(api: KubeApi, observed: Observed, event: Event, *, now: str) -> None:
    meta = observed.metadata
    log = logger.warning if event.type == "Warning" else logger.info
    log("%s/%s %s: %s", meta.namespace, meta.name, event.reason.value, event.message)
    body = {
        "metadata": {"generateName": f"{meta.name}.", "namespace": meta.namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": meta.name,
            "namespace": meta.namespace,
            "uid": meta.uid,
        },
        "reason": event.reason.value,
        "message": event.message[:1024],
        "type": event.type.value,
        "source": {"component": COMPONENT},
        "reportingComponent": f"modelpipe.io/{COMPONENT}",
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    api.create_event(meta.namespace, body)
    metrics.API_WRITES.labels(meta.namespace, "event").inc()
