"""Read a pipeline's ``pvc://`` dataset hash Jobs and their results for the plan.

They share the training Jobs' ``modelpipe.io/pipeline`` label (so the Job watch
reconciles the pipeline when a check ends) and carry ``modelpipe.io/source-hash``,
which tells them apart. Only the pods of the newest finished check are read:
its termination message is the result; older ones are superseded.
"""

from __future__ import annotations

import json

from modelpipe.api.sources import ErrorReason, Observation
from modelpipe.k8s.bodies import JobBody, PodBody, container
from modelpipe.k8s.calls import KubeApi
from modelpipe.manifests.pvcdata import CONTAINER, LABEL_SLOT, LABEL_SOURCE, source_id
from modelpipe.observed import SeenCheck
from modelpipe.planning.clock import parse
from modelpipe.planning.pvcdata import PvcFollow, newest_finished


def is_hash_check(job: JobBody) -> bool:
    return LABEL_SOURCE in job.metadata.labels


def observe_checks(
    api: KubeApi, jobs: list[JobBody], *, namespace: str, pipeline: str, follow: PvcFollow
) -> tuple[SeenCheck, ...]:
    """The checks of the source the spec follows now, the newest finished one with its result."""
    source = source_id(pipeline=pipeline, claim=follow.claim, path=follow.path)
    mine = [
        j for j in jobs if j.metadata.labels.get(LABEL_SOURCE) == source and _slot(j) is not None
    ]
    seen = [_seen(j) for j in mine if not j.metadata.deletion_timestamp]
    newest = newest_finished(tuple(seen))
    if newest is None:
        return tuple(seen)
    job = next(j for j in mine if j.metadata.name == newest.name)
    result = result_from(job, api.list_job_pods(namespace, newest.name))
    return tuple(
        SeenCheck(c.name, c.slot, c.finished_at, result) if c is newest else c for c in seen
    )


def _seen(job: JobBody) -> SeenCheck:
    ended = [c.last_transition_time for c in job.finished.values()]
    finished = job.status.completion_time or next(iter(ended), None)
    return SeenCheck(name=job.metadata.name, slot=_slot(job) or 0, finished_at=parse(finished))


def _slot(job: JobBody) -> int | None:
    value = job.metadata.labels.get(LABEL_SLOT, "")
    return int(value) if value.isdigit() else None


def parse_result(message: str | None, *, exit_code: int | None) -> Observation:
    """Turn the hash container's termination message into an observation."""
    try:
        document = json.loads(message or "")
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        return Observation.failed(ErrorReason.SERVER_ERROR, f"hash Job left no result{code}")
    if "error" in document:
        return Observation.failed(ErrorReason.NOT_FOUND, str(document["error"])[:200])
    digest = document.get("sha256")
    if not isinstance(digest, str) or len(digest) != 64:
        return Observation.failed(ErrorReason.SERVER_ERROR, "hash Job wrote no sha256")
    return Observation(value=f"sha256:{digest}")


def result_from(job: JobBody, pods: list[PodBody]) -> Observation | None:
    """The check's outcome from the Job and its pods as read from the API; None while running."""
    finished = job.finished
    if not finished:
        return None
    for pod in pods:
        found = container(pod.status.container_statuses, CONTAINER)
        terminated = found.state.terminated if found is not None else None
        if terminated:
            return parse_result(terminated.message, exit_code=terminated.exit_code)
    if "Failed" in finished:
        return Observation.failed(ErrorReason.TIMEOUT, "hash Job failed or passed its deadline")
    return Observation.failed(ErrorReason.SERVER_ERROR, "hash Job completed without a pod result")
