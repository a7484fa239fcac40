"""The training queue at the edge: what a pass tells it, what it asks, and the restart seed.

A pass plans as if there were no queue; if that plan starts a training Job, it asks the
queue (``modelpipe.queue``) for a slot, and without one it plans again with the queue's
answer in the observation, so ``plan()`` (pure) writes the Queued status instead.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.datahash import is_hash_check
from modelpipe.k8s.rest import JSON
from modelpipe.layout import MODEL_VERSION_LABEL, PIPELINE_LABEL, job_name
from modelpipe.observed import JobPhase, Observed, QueueSeat
from modelpipe.planning import Plan, plan
from modelpipe.planning.outcome import CreateJob
from modelpipe.queue.ledger import TrainingQueue
from modelpipe.queue.order import Key, Limits, Request


def describe(limits: Limits) -> str:
    parts = []
    if limits.cluster is not None:
        parts.append(f"at most {limits.cluster} training Jobs in the cluster")
    if limits.per_namespace is not None:
        parts.append(f"{limits.per_namespace} per namespace")
    return ", ".join(parts)


def take_seat(
    queue: TrainingQueue, observed: Observed, decided: Plan, *, now: datetime
) -> tuple[Observed, Plan]:
    """Report the pipeline's running Jobs; hold back the Job ``decided`` would start if full."""
    meta = observed.metadata
    key = (meta.namespace, meta.name)
    queue.observe(key, frozenset(j.name for j in observed.jobs if j.phase == JobPhase.ACTIVE))
    version = _training_job_version(decided, pipeline=meta.name)
    if version is None or observed.spec is None:
        queue.withdraw(key)
        return observed, decided
    request = Request(
        namespace=meta.namespace,
        pipeline=meta.name,
        version=version,
        priority=observed.spec.training.priority,
        since=now,
    )
    seat = queue.ask(request)
    if seat.position is None:
        return observed, decided
    waiting = QueueSeat(position=seat.position, waiting=seat.waiting, limits=describe(queue.limits))
    queued = replace(observed, queue=waiting)
    return queued, plan(queued, now)


def _training_job_version(decided: Plan, *, pipeline: str) -> str | None:
    for action in decided.actions:
        if not isinstance(action, CreateJob):
            continue
        version = str(action.manifest["metadata"].get("labels", {}).get(MODEL_VERSION_LABEL, ""))
        if version and action.name == job_name(pipeline=pipeline, version=version):
            return version
    return None


def running_training_jobs(
    api: KubeApi, namespaces: tuple[str, ...] | None
) -> dict[Key, frozenset[str]]:
    """Active training Jobs per pipeline, in one list per namespace (or one for the cluster)."""
    jobs = (
        api.list_all_jobs(PIPELINE_LABEL)
        if namespaces is None
        else [job for namespace in namespaces for job in api.list_jobs(namespace, PIPELINE_LABEL)]
    )
    running: dict[Key, frozenset[str]] = {}
    for job in jobs:
        if is_hash_check(job) or not _active(job):
            continue
        meta = job.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str((meta.get("labels") or {})[PIPELINE_LABEL]))
        running[key] = running.get(key, frozenset()) | {str(meta.get("name"))}
    return running


def _active(job: JSON) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return not any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
    )
