"""One training Job as read from the API: its phase, and what its newest pod reported.

The pods are read only for a finished Job not yet judged: the trainer's result document
(the ``train`` container's termination message; with ``spec.artifacts.s3`` train is the
last init container), how a git checkout, the code test or the model's upload failed,
in the operator's own words. With ``spec.artifacts.s3`` the run's model prefix is the
Job's base URI annotation and its uid.
"""

from __future__ import annotations

from dataclasses import replace

from modelpipe_contract.result import TrainerResult
from pydantic import ValidationError

from modelpipe.k8s.bodies import ContainerStatus, JobBody, PodBody, Terminated, container
from modelpipe.k8s.calls import KubeApi
from modelpipe.layout import (
    CODE_TEST_CONTAINER,
    GIT_CONTAINER,
    KUEUE_QUEUE_LABEL,
    MODEL_VERSION_LABEL,
    QUEUE_ASKED_ANNOTATION,
    TRAIN_CONTAINER,
)
from modelpipe.manifests.s3model import MODEL_URI_ANNOTATION, UPLOAD_CONTAINER, run_uri
from modelpipe.observed import JobPhase, ObservedJob


def label(job: JobBody, key: str) -> str:
    return job.metadata.labels.get(key, "")


def observe_job(api: KubeApi, job: JobBody, *, namespace: str, read_pods: bool) -> ObservedJob:
    meta, finished = job.metadata, job.finished
    phase = (
        JobPhase.SUCCEEDED
        if "Complete" in finished
        else (JobPhase.FAILED if "Failed" in finished else JobPhase.ACTIVE)
    )
    failed = finished.get("Failed")
    observed = ObservedJob(
        name=meta.name,
        model_version=label(job, MODEL_VERSION_LABEL),
        phase=phase,
        queue_name=label(job, KUEUE_QUEUE_LABEL),
        asked_queue=meta.annotations.get(QUEUE_ASKED_ANNOTATION),
        suspended=phase == JobPhase.ACTIVE and bool(job.spec.suspend),
        start_time=job.status.start_time,
        completion_time=job.status.completion_time
        or (failed.last_transition_time if failed else None),
        deleting=bool(meta.deletion_timestamp),
        failure_message=f"{failed.reason}: {failed.message}".strip(": ") if failed else "",
        champion_version=meta.annotations.get("modelpipe.io/champion-version"),
        model_uri=_model_uri(job),
    )
    if phase == JobPhase.ACTIVE or not read_pods:
        return observed
    return with_pod_report(observed, api.list_job_pods(namespace, meta.name))


def _model_uri(job: JobBody) -> str | None:
    """The run's own prefix: the base its Job was given, and the Job's uid (its run id)."""
    base = job.metadata.annotations.get(MODEL_URI_ANNOTATION)
    return run_uri(base, job.metadata.uid) if base and job.metadata.uid else None


def with_pod_report(job: ObservedJob, pods: list[PodBody]) -> ObservedJob:
    """Fold in the newest pod's trainer result and the code test's outcome."""
    pods = sorted(pods, key=lambda p: p.metadata.creation_timestamp or "", reverse=True)
    for pod in pods:
        init, main = pod.status.init_container_statuses, pod.status.container_statuses
        clone = _terminated(init, GIT_CONTAINER)
        if clone is not None and _failed(clone):
            return replace(job, checkout_failure=_checkout_failure(clone))
        test = _terminated(init, CODE_TEST_CONTAINER)
        if test is not None and _failed(test):
            message = (test.message or test.reason).strip()[-500:]
            return replace(
                job,
                code_test_failed=True,
                code_test_message=f"exit code {test.exit_code}"
                + (f": {message}" if message else ""),
            )
        # With artifacts.s3 train is the last init container and upload-model follows it.
        train = _terminated(main, TRAIN_CONTAINER) or _terminated(init, TRAIN_CONTAINER)
        if train is None:
            continue
        result, error = _result(train.message)
        return replace(
            job,
            upload_failure=_upload_failure(_terminated(main, UPLOAD_CONTAINER)),
            result=result,
            result_error=error,
            exit_code=train.exit_code,
            exit_reason=train.reason,
            exit_signal=train.signal,
        )
    return job


def _failed(terminated: Terminated) -> bool:
    return terminated.exit_code not in (None, 0)


def _upload_failure(terminated: Terminated | None) -> str:
    """How upload-model failed: its exit and its own message (no key, no response body)."""
    if terminated is None or not _failed(terminated):
        return ""
    message = terminated.message.strip()[-500:]
    return f"{_checkout_failure(terminated)}" + (f": {message}" if message else "")


def _checkout_failure(terminated: Terminated) -> str:
    """Exit code, reason and signal only: git's own words may quote the remote's answer."""
    parts = [f"exit code {terminated.exit_code}"]
    if terminated.reason:
        parts.append(f"reason {terminated.reason}")
    if terminated.signal:
        parts.append(f"signal {terminated.signal}")
    return ", ".join(parts)


def _terminated(statuses: tuple[ContainerStatus, ...], name: str) -> Terminated | None:
    found = container(statuses, name)
    return found.terminated if found is not None else None


def _result(message: str) -> tuple[TrainerResult | None, str | None]:
    if not message.strip():
        return None, "the trainer wrote no termination message"
    try:
        return TrainerResult.from_message(message), None
    except ValidationError as error:
        return None, f"termination message is not a trainer result: {error.errors()[0]['msg']}"
