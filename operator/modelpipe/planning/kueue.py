"""Training admission handed to Kueue (``spec.training.queueName``): what the operator says.

Kueue is the admission engine here, and the operator does not compete with it: the Job
is created suspended with the label ``kueue.x-k8s.io/queue-name`` (manifests.job), the
operator's own training queue neither counts nor holds it (k8s.queue), and only Kueue
ever unsuspends it. These checks turn what was read into status::

    LocalQueue not found ──▶ no Job; Ready=False, Training=False QueueNotFound (+ Warning)
    Job suspended        ──▶ currentRun.phase Queued; Training=False Queued (+ Normal, once)
      in another queue   ──▶ deleted (it never ran), made again for the queue now named
                             (queueName changed or removed, Kueue switched off)
    Job unsuspended      ──▶ Kueue admitted it: Running, as any other Job

Without Kueue (the chart's kueue.enabled=false) a spec naming a queue is refused when it
is parsed (api.v1alpha1.training), so no LocalQueue is read.
"""

from __future__ import annotations

from modelpipe.api.v1alpha1 import ConditionType, CurrentRun, Reason, RunPhase, RunRecord
from modelpipe.observed import ObservedJob
from modelpipe.planning.draft import NOTHING, Decided, Part, block, condition, emit
from modelpipe.planning.outcome import DeleteJob, EventType


def queue_not_found(d: Decided) -> bool:
    return d.obs.kueue is not None and not d.obs.kueue.exists


def queue_missing(d: Decided) -> Part:
    """A named LocalQueue that does not exist: say so, and start nothing (Kueue's or ours)."""
    kueue = d.obs.kueue
    if kueue is None or kueue.exists:
        return NOTHING
    message = (
        f"Kueue LocalQueue {kueue.name} not found in namespace {d.obs.metadata.namespace} "
        "(or Kueue is not installed): create it or fix spec.training.queueName (no training "
        "Job starts outside the queue)"
    )
    # Checked again every 30 s: a LocalQueue created later is found without a spec change.
    return block(d, Reason.QUEUE_NOT_FOUND, message) + condition(
        ConditionType.TRAINING, "False", Reason.QUEUE_NOT_FOUND, message
    )


def awaiting_admission(d: Decided, job: ObservedJob, record: RunRecord) -> Part:
    """The Job waits, suspended, for Kueue to admit it; or, if it waits in a queue the spec
    no longer names, it goes (it never ran) and the run starts again where it now should."""
    named = d.spec.training.queue_name or ""
    # What the operator asked for, not Kueue's label: Kueue's defaulting may have put a
    # Job made without a queue into the namespace's "default" LocalQueue.
    asked = job.queue_name if job.asked_queue is None else job.asked_queue
    if asked != named:
        return _requeue(d, job, record, named)
    if queue_not_found(d):  # Kueue holds it; it never starts outside the queue
        return queue_missing(d) + _queued_run(d, job, record)
    kueue = d.obs.kueue
    where = f"LocalQueue {job.queue_name}"
    if kueue is not None and kueue.cluster_queue:
        where += f", ClusterQueue {kueue.cluster_queue}, {kueue.pending} pending"
    message = f"waiting for Kueue to admit Job {job.name} ({where})"
    part = condition(ConditionType.TRAINING, "False", Reason.QUEUED, message)
    if d.previous_reason(ConditionType.TRAINING) != Reason.QUEUED:
        part += emit(EventType.NORMAL, Reason.QUEUED, message)
    return part + _queued_run(d, job, record)


def _queued_run(d: Decided, job: ObservedJob, record: RunRecord) -> Part:
    run = CurrentRun(
        model_version=record.model_version,
        job_name=job.name,
        input_hash=record.input_hash,
        phase=RunPhase.QUEUED,
    )
    return Part(status=d.with_record(record).model_copy(update={"current_run": run}))


def _requeue(d: Decided, job: ObservedJob, record: RunRecord, named: str) -> Part:
    now = f"LocalQueue {named}" if named else "the operator's own training queue"
    message = (
        f"Stopped suspended Job {job.name}: it waits in LocalQueue {job.queue_name}, which "
        f"spec.training.queueName no longer names; model {record.model_version} goes "
        f"through {now} instead"
    )
    return (
        Part(actions=(DeleteJob(job.name, why="queue changed"),))
        + emit(EventType.NORMAL, Reason.JOB_SUPERSEDED, message)
        + condition(ConditionType.TRAINING, "False", Reason.QUEUED, message)
        + _queued_run(d, job, record)
    )
