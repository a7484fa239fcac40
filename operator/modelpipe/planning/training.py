"""Checks that decide about training runs: which Job should exist, and what a finished one means.

Concurrency policy: at most one training Job runs per pipeline, the one for the current
inputs. When the inputs change while a Job runs, that Job is superseded: it is deleted
(its pods stop) and the Job for the new inputs starts. The latest inputs always win;
a superseded run is recorded as Superseded and is started again only if its inputs
come back.
"""

from __future__ import annotations

from modelpipe import inputs as inputs_
from modelpipe.api.pvcdata import uri_problem
from modelpipe.api.v1alpha1 import (
    FINAL_VERDICTS,
    ConditionType,
    CurrentRun,
    Reason,
    RunPhase,
    RunRecord,
    Verdict,
)
from modelpipe.layout import RETRAIN_ANNOTATION, job_name, model_dir
from modelpipe.manifests import run_config_problem, training_run
from modelpipe.observed import JobPhase, ObservedJob
from modelpipe.planning import kueue, sources
from modelpipe.planning.draft import (
    NOTHING,
    Decided,
    Part,
    Verdicted,
    block,
    condition,
    emit,
    wake_after,
)
from modelpipe.planning.judgement import describe_failures, judge
from modelpipe.planning.outcome import (
    CreateJob,
    DeleteJob,
    EventType,
    GateFailure,
    RunFinished,
    Sample,
)
from modelpipe.planning.stored import stored_here, stored_model_uri

_SETTLED = FINAL_VERDICTS | {Verdict.PASSED, Verdict.HELD}
_WARNINGS = {
    Verdict.GATE_FAILED: Reason.GATE_FAILED,
    Verdict.VALIDATION_FAILED: Reason.VALIDATION_FAILED,
    Verdict.CODE_VALIDATION_FAILED: Reason.CODE_VALIDATION_FAILED,
    Verdict.TRAINING_FAILED: Reason.TRAINING_FAILED,
}


def resolve_inputs(d: Decided) -> Part:
    """Fix the desired inputs, their hash and model version for this pass."""
    inputs = inputs_.resolve(
        spec=d.spec,
        resolved=d.obs.resolved,
        retrain_token=d.obs.metadata.annotations.get(RETRAIN_ANNOTATION),
        previous=d.previous.inputs,
        now=d.now,
        schedule_slot=sources.schedule_slot(d),
    )
    return Part(status=d.with_status(inputs=inputs))


def _desired(d: Decided) -> str:
    assert d.status.inputs is not None
    return d.status.inputs.model_version


def stop_superseded_jobs(d: Decided) -> Part:
    """Delete running Jobs for inputs that are no longer desired (latest inputs win)."""
    version = _desired(d)
    part = NOTHING
    for job in d.obs.jobs:
        if job.phase != JobPhase.ACTIVE or job.deleting or job.model_version == version:
            continue
        part += Part(actions=(DeleteJob(job.name, why="superseded"),)) + emit(
            EventType.NORMAL,
            Reason.JOB_SUPERSEDED,
            f"Stopped Job {job.name}: inputs changed, model {version} is now desired",
        )
        so_far = d.after(part)
        record = so_far.find(job.model_version)
        if record is not None and record.verdict == Verdict.RUNNING:
            part += Part(
                status=so_far.with_run(
                    record.model_version,
                    verdict=Verdict.SUPERSEDED,
                    reason=Reason.JOB_SUPERSEDED,
                    message=f"superseded by model {version}",
                )
            )
    return part


def settle_current_run(d: Decided) -> Part:
    """Follow the desired Job: running, or finished and judged exactly once."""
    version = _desired(d)
    job = d.obs.job(job_name(pipeline=d.obs.metadata.name, version=version))
    if job is None or job.deleting:
        return NOTHING
    recorded = d.find(version)
    if recorded is not None:
        return _follow(d, job, recorded)
    record = _new_record(d, job.name)
    adopted = adopt_job(d, job, record)
    return adopted + _follow(d.after(adopted), job, record)


def adopt_job(d: Decided, job: ObservedJob, record: RunRecord) -> Part:
    """Record the desired Job that status does not know: its creator stopped (a restart, a
    new leader) between creating it and writing status. Said once, with an event."""
    return Part(status=d.with_record(record)) + emit(
        EventType.NORMAL,
        Reason.ADOPTED_JOB,
        f"Adopted Job {job.name} for model {record.model_version}: it exists but status did "
        f"not record it (its creator stopped before writing status)",
    )


def _follow(d: Decided, job: ObservedJob, record: RunRecord) -> Part:
    version = record.model_version
    if job.phase == JobPhase.ACTIVE:
        if record.verdict not in (Verdict.RUNNING, Verdict.SUPERSEDED):
            return NOTHING
        if job.suspended:  # created for Kueue, not admitted yet
            return kueue.awaiting_admission(
                d, job, record.model_copy(update={"verdict": Verdict.RUNNING})
            )
        start_time = job.start_time or record.start_time
        record = record.model_copy(
            update={
                "verdict": Verdict.RUNNING,
                "reason": Reason.JOB_RUNNING,
                "start_time": start_time,
            }
        )
        run = CurrentRun(
            model_version=version,
            job_name=job.name,
            input_hash=record.input_hash,
            phase=RunPhase.RUNNING if job.start_time else RunPhase.PENDING,
            start_time=start_time,
        )
        return Part(status=d.with_record(record).model_copy(update={"current_run": run}))
    if record.verdict in _SETTLED:
        return NOTHING
    return _finish(d, job, judge(job=job, spec=d.spec, base=record))


def _finish(d: Decided, job: ObservedJob, record: RunRecord) -> Part:
    samples: tuple[Sample, ...] = (
        RunFinished(record.verdict),
        *(GateFailure(c.metric) for c in record.checks if not c.passed),
    )
    part = Part(status=d.with_record(record), samples=samples)
    serving = d.status.production.model_version if d.status.production else "nothing"
    if record.verdict == Verdict.PASSED:
        return part + emit(
            EventType.NORMAL,
            Reason.GATE_PASSED,
            f"Model {record.model_version} from Job {job.name} passed the gate",
        )
    detail = describe_failures(record) if record.failures else record.message
    return part + emit(
        EventType.WARNING,
        _WARNINGS[record.verdict],
        f"Model {record.model_version} rejected ({record.verdict.value}): {detail}; "
        f"production keeps serving {serving}",
    )


def _new_record(d: Decided, name: str) -> RunRecord:
    inputs = d.status.inputs
    assert inputs is not None
    return RunRecord(
        model_version=inputs.model_version,
        job_name=name,
        input_hash=inputs.hash,
        code_revision=inputs.code_revision,
        dataset_version=inputs.dataset_version,
        verdict=Verdict.RUNNING,
        reason=Reason.JOB_CREATED,
        start_time=d.now,
    )


def start_run(d: Decided) -> Part:
    """Create the Job for the desired inputs unless it exists or these inputs were decided."""
    version = _desired(d)
    name = job_name(pipeline=d.obs.metadata.name, version=version)
    job = d.obs.job(name)
    record = d.find(version)
    if job is not None and job.deleting:
        return wake_after(2.0)  # the old Job of these inputs is still going away
    if job is not None or (
        record is not None and record.verdict not in (Verdict.RUNNING, Verdict.SUPERSEDED)
    ):
        return NOTHING
    if d.spec.suspend or d.hold:
        return NOTHING
    refused = d.obs.credentials_problem or d.obs.artifacts_problem
    if refused:
        # The clone or the model's upload would mount a Secret that has not opted in: never.
        return block(d, Reason.CREDENTIALS_REFUSED, refused, requeue_after=60.0)
    if d.obs.service_account_problem:  # the author's image would run as that account
        return block(
            d, Reason.SERVICE_ACCOUNT_REFUSED, d.obs.service_account_problem, requeue_after=60.0
        )
    claim_problem = uri_problem(d.spec.dataset.uri)
    if claim_problem:  # admission refuses it too; an object from before that rule is not used
        return block(d, Reason.INVALID_SPEC, f"dataset.uri: {claim_problem}", requeue_after=None)
    inputs = d.status.inputs
    if inputs is None or not inputs.code_revision or not inputs.dataset_version:
        failing = sources.failing_source(d)
        if failing is not None:  # not waiting: the followed source fails (SourcesReady)
            return block(d, Reason.SOURCE_FAILED, failing[:2048], requeue_after=None)
        return block(
            d,
            Reason.WAITING_FOR_INPUTS,
            "waiting for followed sources to resolve the code revision and dataset version",
            requeue_after=None,
        )
    if not d.obs.pvc_exists:
        return block(
            d,
            Reason.PVC_NOT_FOUND,
            f"PersistentVolumeClaim {d.spec.artifacts.pvc} not found in namespace "
            f"{d.obs.metadata.namespace}: create it or fix spec.artifacts.pvc",
        )
    if not d.obs.service_account_exists:  # the Job's pods would be refused until its deadline
        message = (
            f"ServiceAccount {d.spec.training.service_account_name} not found in namespace "
            f"{d.obs.metadata.namespace}: create it or fix spec.training.serviceAccountName"
        )
        return block(d, Reason.SERVICE_ACCOUNT_NOT_FOUND, message) + condition(
            ConditionType.TRAINING, "False", Reason.SERVICE_ACCOUNT_NOT_FOUND, message
        )
    if kueue.queue_not_found(d):
        return kueue.queue_missing(d)
    if d.obs.queue is not None:
        return _wait_in_queue(d, name)
    return _create_job(d, name)


def _wait_in_queue(d: Decided, name: str) -> Part:
    """No slot in the training queue: say where the run stands; the queue wakes us."""
    seat, inputs, production = d.obs.queue, d.status.inputs, d.status.production
    assert seat is not None and inputs is not None
    message = (
        f"queued for training: position {seat.position} of {seat.waiting} ({seat.limits}); "
        f"Job {name} starts when a slot frees"
    )
    serves = f"; model {production.model_version} keeps serving" if production else ""
    part = Part(blocker=Verdicted("False", Reason.QUEUED, f"{message}{serves}"))
    part += condition(ConditionType.TRAINING, "False", Reason.QUEUED, message)
    if d.previous_reason(ConditionType.READY) != Reason.QUEUED:
        part += emit(EventType.NORMAL, Reason.QUEUED, message)
    run = CurrentRun(
        model_version=inputs.model_version,
        job_name=name,
        input_hash=inputs.hash,
        phase=RunPhase.QUEUED,
        queue_position=seat.position,
    )
    # Refresh the position; a freed slot wakes the pass at once.
    return part + Part(status=d.with_status(current_run=run)) + wake_after(60.0)


def _create_job(d: Decided, name: str) -> Part:
    inputs = d.status.inputs
    assert inputs is not None
    production = d.status.production
    champion = production.model_version if production and d.spec.evaluation.champion else None
    if champion and not stored_here(d, champion):
        champion = None  # production's model is in the store the spec named before
    champion_uri = stored_model_uri(d, champion) if champion else None
    champion_dir = model_dir(pipeline=d.obs.metadata.name, version=champion) if champion else None
    run = training_run(
        meta=d.obs.metadata,
        spec=d.spec,
        inputs=inputs,
        champion_dir=champion_dir,
        dataset_uri=inputs_.dataset_uri(spec=d.spec, resolved=d.obs.resolved),
        config=d.obs.config,
        champion_uri=champion_uri if champion else None,
    )
    problem = run_config_problem(run.config_map)
    if problem is not None:  # would be refused by the apiserver on every pass
        return block(d, Reason.INVALID_SPEC, problem, requeue_after=None)
    if champion:  # the manifest was built just now, for this plan only
        run.job["metadata"]["annotations"]["modelpipe.io/champion-version"] = champion
    current = CurrentRun(
        model_version=inputs.model_version,
        job_name=name,
        input_hash=inputs.hash,
        phase=RunPhase.PENDING,
        start_time=d.now,
    )
    status = d.with_record(_new_record(d, name)).model_copy(update={"current_run": current})
    return Part(status=status, actions=(CreateJob(run.job, config_map=run.config_map),)) + emit(
        EventType.NORMAL,
        Reason.JOB_CREATED,
        f"Created Job {name} for code {inputs.code_revision}, dataset {inputs.dataset_version}",
    )


def prune_jobs(d: Decided) -> Part:
    """Keep finished Jobs only for runs still in history; trim history to historyLimit."""
    history = d.status.history[: d.spec.history_limit]
    kept = {r.model_version for r in history} | {_desired(d)}
    stale = (
        DeleteJob(job.name, why="history limit")
        for job in d.obs.jobs
        if job.phase != JobPhase.ACTIVE and not job.deleting and job.model_version not in kept
    )
    return Part(status=d.with_status(history=history), actions=tuple(stale))


def training_condition(d: Decided) -> Part:
    if ConditionType.TRAINING in d.conditions:  # a check already said why no run starts
        return NOTHING
    run = d.status.current_run
    if run is not None and run.phase in (RunPhase.PENDING, RunPhase.RUNNING):
        return condition(
            ConditionType.TRAINING, "True", Reason.JOB_RUNNING, f"Job {run.job_name} is running"
        )
    if d.spec.suspend:
        return condition(ConditionType.TRAINING, "False", Reason.SUSPENDED, "spec.suspend is true")
    last = d.status.history[0] if d.status.history else None
    if last is None:
        return condition(ConditionType.TRAINING, "False", Reason.IDLE, "no run yet")
    reason = _WARNINGS.get(last.verdict, Reason.JOB_SUCCEEDED)
    if reason == Reason.GATE_FAILED:
        reason = Reason.JOB_SUCCEEDED
    return condition(
        ConditionType.TRAINING,
        "False",
        reason,
        f"Job {last.job_name}: {last.verdict.value}: {last.message}"[:1024],
    )
