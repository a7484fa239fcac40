"""One training Job as read from the API: its phase, and what its newest pod reported.

The pods are read only for a finished Job not yet judged: the trainer's result document
(the ``train`` container's termination message; with ``spec.artifacts.s3`` train is the
last init container), how a git checkout, the code test or the model's upload failed,
in the operator's own words. With ``spec.artifacts.s3`` the run's model prefix is the
Job's base URI annotation and its uid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelpipe_contract.result import TrainerResult
from pydantic import ValidationError

from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.rest import JSON
from modelpipe.layout import (
    CODE_TEST_CONTAINER,
    GIT_CONTAINER,
    KUEUE_QUEUE_LABEL,
    MODEL_VERSION_LABEL,
    TRAIN_CONTAINER,
)
from modelpipe.manifests.s3model import MODEL_URI_ANNOTATION, UPLOAD_CONTAINER, run_uri
from modelpipe.observed import JobPhase, ObservedJob


def label(obj: JSON, key: str) -> str:
    return str((obj.get("metadata", {}).get("labels") or {}).get(key, ""))


def observe_job(api: KubeApi, job: JSON, *, namespace: str, read_pods: bool) -> ObservedJob:
    meta, status = job.get("metadata", {}), job.get("status") or {}
    conditions = {
        c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"
    }
    phase = (
        JobPhase.SUCCEEDED
        if "Complete" in conditions
        else (JobPhase.FAILED if "Failed" in conditions else JobPhase.ACTIVE)
    )
    failed = conditions.get("Failed", {})
    observed = ObservedJob(
        name=meta["name"],
        model_version=label(job, MODEL_VERSION_LABEL),
        phase=phase,
        queue_name=label(job, KUEUE_QUEUE_LABEL),
        suspended=phase == JobPhase.ACTIVE and bool((job.get("spec") or {}).get("suspend")),
        start_time=status.get("startTime"),
        completion_time=status.get("completionTime") or failed.get("lastTransitionTime"),
        deleting=bool(meta.get("deletionTimestamp")),
        failure_message=f"{failed.get('reason', '')}: {failed.get('message', '')}".strip(": "),
        champion_version=(meta.get("annotations") or {}).get("modelpipe.io/champion-version"),
        model_uri=_model_uri(job),
    )
    if phase == JobPhase.ACTIVE or not read_pods:
        return observed
    return with_pod_report(observed, api.list_job_pods(namespace, meta["name"]))


def _model_uri(job: JSON) -> str | None:
    """The run's own prefix: the base its Job was given, and the Job's uid (its run id)."""
    meta = job.get("metadata", {})
    base = (meta.get("annotations") or {}).get(MODEL_URI_ANNOTATION)
    return run_uri(base, meta["uid"]) if base and meta.get("uid") else None


def with_pod_report(job: ObservedJob, pods: list[JSON]) -> ObservedJob:
    """Fold in the newest pod's trainer result and the code test's outcome."""
    pods = sorted(
        pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "", reverse=True
    )
    for pod in pods:
        status = pod.get("status") or {}
        clone = _terminated(status.get("initContainerStatuses"), GIT_CONTAINER)
        if clone is not None and clone.get("exitCode", 0) != 0:
            return replace(job, checkout_failure=_checkout_failure(clone))
        test = _terminated(status.get("initContainerStatuses"), CODE_TEST_CONTAINER)
        if test is not None and test.get("exitCode", 0) != 0:
            message = (test.get("message") or test.get("reason") or "").strip()[-500:]
            return replace(
                job,
                code_test_failed=True,
                code_test_message=f"exit code {test.get('exitCode')}"
                + (f": {message}" if message else ""),
            )
        # With artifacts.s3 train is the last init container and upload-model follows it.
        train = _terminated(status.get("containerStatuses"), TRAIN_CONTAINER) or _terminated(
            status.get("initContainerStatuses"), TRAIN_CONTAINER
        )
        if train is None:
            continue
        result, error = _result(train.get("message") or "")
        upload = _terminated(status.get("containerStatuses"), UPLOAD_CONTAINER)
        return replace(
            job,
            upload_failure=_upload_failure(upload),
            result=result,
            result_error=error,
            exit_code=train.get("exitCode"),
            exit_reason=str(train.get("reason") or ""),
            exit_signal=train.get("signal"),
        )
    return job


def _upload_failure(terminated: dict[str, Any] | None) -> str:
    """How upload-model failed: its exit and its own message (no key, no response body)."""
    if terminated is None or terminated.get("exitCode", 0) == 0:
        return ""
    message = str(terminated.get("message") or "").strip()[-500:]
    return f"{_checkout_failure(terminated)}" + (f": {message}" if message else "")


def _checkout_failure(terminated: dict[str, Any]) -> str:
    """Exit code, reason and signal only: git's own words may quote the remote's answer."""
    parts = [f"exit code {terminated.get('exitCode')}"]
    if terminated.get("reason"):
        parts.append(f"reason {terminated['reason']}")
    if terminated.get("signal"):
        parts.append(f"signal {terminated['signal']}")
    return ", ".join(parts)


def _terminated(statuses: list[dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    for status in statuses or []:
        if status.get("name") == name:
            state = status.get("state") or {}
            last = status.get("lastState") or {}
            return state.get("terminated") or last.get("terminated")
    return None


def _result(message: str) -> tuple[TrainerResult | None, str | None]:
    if not message.strip():
        return None, "the trainer wrote no termination message"
    try:
        return TrainerResult.from_message(message), None
    except ValidationError as error:
        return None, f"termination message is not a trainer result: {error.errors()[0]['msg']}"
