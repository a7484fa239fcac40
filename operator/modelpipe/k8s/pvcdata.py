"""Read a pipeline's ``pvc://`` dataset hash Jobs and their results for the plan.

They share the training Jobs' ``modelpipe.io/pipeline`` label (so the Job watch
reconciles the pipeline when a check ends) and carry ``modelpipe.io/source-hash``,
which tells them apart. Only the pods of the newest finished check are read:
its termination message is the result; older ones are superseded.
"""

from __future__ import annotations

import json
from typing import Any

from modelpipe.api.sources import ErrorReason, Observation
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.rest import JSON
from modelpipe.manifests.pvcdata import CONTAINER, LABEL_SLOT, LABEL_SOURCE, source_id
from modelpipe.observed import SeenCheck
from modelpipe.planning.clock import parse
from modelpipe.planning.pvcdata import PvcFollow, newest_finished


def is_hash_check(job: JSON) -> bool:
    return LABEL_SOURCE in (job.get("metadata", {}).get("labels") or {})


def observe_checks(
    api: KubeApi, jobs: list[JSON], *, namespace: str, pipeline: str, follow: PvcFollow
) -> tuple[SeenCheck, ...]:
    """The checks of the source the spec follows now, the newest finished one with its result."""
    source = source_id(pipeline=pipeline, claim=follow.claim, path=follow.path)
    mine = [j for j in jobs if _labels(j).get(LABEL_SOURCE) == source and _slot(j) is not None]
    seen = [_seen(j) for j in mine if not j.get("metadata", {}).get("deletionTimestamp")]
    newest = newest_finished(tuple(seen))
    if newest is None:
        return tuple(seen)
    job = next(j for j in mine if j["metadata"]["name"] == newest.name)
    result = result_from(job, api.list_job_pods(namespace, newest.name))
    return tuple(
        SeenCheck(c.name, c.slot, c.finished_at, result) if c is newest else c for c in seen
    )


def _seen(job: JSON) -> SeenCheck:
    status = job.get("status") or {}
    ended = [
        c.get("lastTransitionTime")
        for c in status.get("conditions") or []
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
    ]
    finished = status.get("completionTime") or next(iter(ended), None)
    return SeenCheck(
        name=job["metadata"]["name"], slot=_slot(job) or 0, finished_at=parse(finished)
    )


def _labels(job: JSON) -> dict[str, str]:
    return job.get("metadata", {}).get("labels") or {}


def _slot(job: JSON) -> int | None:
    value = _labels(job).get(LABEL_SLOT, "")
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


def result_from(job: dict[str, Any], pods: list[dict[str, Any]]) -> Observation | None:
    """The check's outcome from the Job and its pods as read from the API; None while running."""
    status = job.get("status") or {}
    finished = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    if not finished & {"Complete", "Failed"}:
        return None
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated")
            if container.get("name") == CONTAINER and terminated:
                return parse_result(terminated.get("message"), exit_code=terminated.get("exitCode"))
    if "Failed" in finished:
        return Observation.failed(ErrorReason.TIMEOUT, "hash Job failed or passed its deadline")
    return Observation.failed(ErrorReason.SERVER_ERROR, "hash Job completed without a pod result")
