"""The training queue at the edge: the operator's record of it, and what each pass does with it.

The record (:class:`TrainingQueue`, in memory) holds the running training Jobs and the
waiting pipelines. Each reconcile pass reports its pipeline's active training Jobs and,
when its plan would start a Job, asks for a slot; the answer comes from the pure
:func:`modelpipe.planning.queue.decide` over the whole record. A slot given is counted at
once (the pass creates the Job right after), so two passes never share the last slot.
When a slot frees (a Job ends, a pipeline is deleted), the requests that now fit are
woken. Jobs handed to Kueue (``spec.training.queueName``) stay outside the record: Kueue
admits them, and holding them here as well would admit them twice. A restart loses the
record: the first ask re-reads the running training Jobs in one list (``seed``), and
waiting pipelines join again as their resume passes run.

A pass plans as if there were no queue; if that plan starts a training Job and no slot is
free, it plans again with the queue's answer in the observation, so ``plan()`` (pure)
writes the Queued status instead. Kueue's LocalQueue is read the same way
(:func:`with_local_queue`): only when the plan would make a Job for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.gather import local_queue
from modelpipe.k8s.jobs import label
from modelpipe.k8s.pvcdata import is_hash_check
from modelpipe.layout import KUEUE_QUEUE_LABEL, MODEL_VERSION_LABEL, PIPELINE_LABEL, job_name
from modelpipe.observed import JobPhase, Observed, QueueSeat
from modelpipe.planning import Plan, plan
from modelpipe.planning.outcome import CreateJob
from modelpipe.planning.queue import Key, Limits, Request, decide

Seed = Callable[[], Mapping[Key, frozenset[str]]]


@dataclass(frozen=True)
class Seat:
    """``position`` is ``None`` when the request may start now."""

    position: int | None
    waiting: int


class TrainingQueue:
    def __init__(
        self, limits: Limits, *, wake: Callable[[str, str], None], seed: Seed | None = None
    ) -> None:
        self.limits = limits
        self._wake, self._seed = wake, seed
        self._running: dict[Key, frozenset[str]] = {}
        self._waiting: dict[Key, Request] = {}
        self._guard = threading.Lock()
        self._seeded = seed is None

    def observe(self, key: Key, active: frozenset[str]) -> None:
        """The pipeline's active training Jobs as a pass read them."""
        with self._guard:
            before = len(self._running.get(key, frozenset()))
            if active:
                self._running[key] = active
            else:
                self._running.pop(key, None)
        if len(active) < before:
            self._wake_fitting()

    def ask(self, request: Request) -> Seat:
        """Take a slot for ``request`` or join (or keep a place in) the queue.

        A pipeline already waiting keeps its place when its inputs change: the new run
        replaces the stale one, which will never start.
        """
        with self._guard:
            self._seed_once()
            earlier = self._waiting.get(request.key)
            if earlier is not None:
                request = replace(request, since=min(earlier.since, request.since))
            self._waiting[request.key] = request
            decision = decide(self._waiting.values(), self._per_namespace(), self.limits)
            if request.key in decision.admitted:
                del self._waiting[request.key]
                taken = job_name(pipeline=request.pipeline, version=request.version)
                self._running[request.key] = self._running.get(request.key, frozenset()) | {taken}
                return Seat(position=None, waiting=len(self._waiting))
            return Seat(position=decision.positions[request.key], waiting=len(self._waiting))

    def withdraw(self, key: Key) -> None:
        """The pipeline no longer wants a run (its inputs were decided, it was suspended)."""
        with self._guard:
            self._waiting.pop(key, None)

    def leave(self, key: Key) -> None:
        """The pipeline is gone: out of the queue, and its Jobs go with it."""
        with self._guard:
            self._waiting.pop(key, None)
            freed = self._running.pop(key, None)
        if freed:
            self._wake_fitting()

    def waiting(self) -> int:
        with self._guard:
            return len(self._waiting)

    def _per_namespace(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (namespace, _), jobs in self._running.items():
            counts[namespace] = counts.get(namespace, 0) + len(jobs)
        return counts

    def _seed_once(self) -> None:
        if self._seeded or self._seed is None:
            return
        for key, jobs in self._seed().items():
            self._running[key] = self._running.get(key, frozenset()) | jobs
        self._seeded = True

    def _wake_fitting(self) -> None:
        """Reconcile the waiting pipelines that would now get a slot (they ask again)."""
        with self._guard:
            decision = decide(self._waiting.values(), self._per_namespace(), self.limits)
        for namespace, name in sorted(decision.admitted):
            self._wake(namespace, name)


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
    # Kueue admits the Jobs with its label: they neither count here nor wait here.
    queue.observe(
        key,
        frozenset(j.name for j in observed.jobs if j.phase == JobPhase.ACTIVE and not j.queue_name),
    )
    version = _training_job_version(decided, pipeline=meta.name)
    if version is None or observed.spec is None or observed.spec.training.queue_name:
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


def with_local_queue(
    api: KubeApi, observed: Observed, decided: Plan, *, now: datetime
) -> tuple[Observed, Plan]:
    """If ``decided`` makes a training Job for a Kueue LocalQueue not read yet, read it and
    plan again: a missing one then makes no Job (QueueNotFound) instead."""
    spec, meta = observed.spec, observed.metadata
    if spec is None or not spec.training.queue_name or observed.kueue is not None:
        return observed, decided
    if _training_job_version(decided, pipeline=meta.name) is None:
        return observed, decided
    found = replace(observed, kueue=local_queue(api, namespace=meta.namespace, spec=spec))
    return found, plan(found, now)


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
        if job.finished or is_hash_check(job) or label(job, KUEUE_QUEUE_LABEL):
            continue  # Kueue's Jobs are Kueue's to count
        key = (job.metadata.namespace, label(job, PIPELINE_LABEL))
        running[key] = running.get(key, frozenset()) | {job.metadata.name}
    return running
