"""A followed ``pvc://`` dataset in the plan: its ``status.sources`` row, when to check it — pure.

The pollers of git and HTTP sources live in memory; a PVC is checked by a Job
(:mod:`modelpipe.manifests.pvcdata`), so its state is what the API holds: the row
status kept from the last pass, and the hash Jobs that exist now. Each pass folds
the newest finished check into the row, once (a check counts when it finished
after the row's ``lastCheckTime``)::

    no check yet ──slot starts──▶ Job running ──finished──▶ row: resolved sha256, or the error
         ▲                                                     │
         └─────────── next slot (floor(now / pollInterval)) ◀──┘

One check per slot, one at a time: a slot is done when a Job of that slot exists
or the row was checked during it (the Job may be gone by ``ttlSecondsAfterFinished``).
A missing claim is an error without a Job: the Job's pod could never start.
A failed check keeps the last resolved value, so nothing runs because of it.

The git and HTTP pollers hand the plan their answers through ``Observed.resolved``,
``Observed.sources`` and ``Observed.source_changes``; :func:`follow_pvc_dataset`
fills the same three from the hash Jobs, first thing in the pass. Everything after
that — last known inputs, ``SourcesReady``, the ``SourceChanged`` events,
debouncing, the run — is the same code for every source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from modelpipe.api.durations import parse_duration
from modelpipe.api.pvcdata import parse_uri, uri_problem
from modelpipe.api.sources import ErrorReason, SourceKind
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.api.v1alpha1.status import SourceStatus
from modelpipe.inputs import Resolved
from modelpipe.manifests.common import owner_reference
from modelpipe.manifests.pvcdata import HashCheck, build_job
from modelpipe.observed import SeenCheck
from modelpipe.planning.clock import parse, rfc3339
from modelpipe.planning.draft import NOTHING, Decided, Part, wake_after
from modelpipe.planning.outcome import Action, CreateJob, DeleteJob

ROLE = "dataset"
DEFAULT_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class PvcFollow:
    """A spec's unpinned ``pvc://`` dataset."""

    uri: str
    claim: str
    path: str
    interval_seconds: float


def pvc_follow(spec: ModelPipelineSpec) -> PvcFollow | None:
    """The PVC dataset ``spec`` follows, or None (pinned, suspended, or not on a PVC)."""
    data = spec.dataset
    parsed = parse_uri(data.uri)
    if parsed is None or data.version is not None or spec.suspend:
        return None
    interval = (
        parse_duration(data.poll_interval).total_seconds()
        if data.poll_interval
        else DEFAULT_INTERVAL_SECONDS
    )
    return PvcFollow(data.uri, parsed[0], parsed[1], interval)


def slot_of(when: datetime, interval_seconds: float) -> int:
    return math.floor(when.timestamp() / interval_seconds)


def slot_start(slot: int, interval_seconds: float) -> datetime:
    return datetime.fromtimestamp(slot * interval_seconds, UTC)


def fold(
    before: SourceStatus | None,
    *,
    follow: PvcFollow,
    checks: tuple[SeenCheck, ...],
    claim_exists: bool,
    now: datetime,
) -> SourceStatus:
    """The row after this pass: the previous one with the newest unseen result folded in."""
    row = _base(before, follow)
    interval = follow.interval_seconds
    upcoming = rfc3339(slot_start(slot_of(now, interval) + 1, interval))
    problem = uri_problem(follow.uri)
    if problem is not None or not claim_exists:
        reason = ErrorReason.INVALID_SOURCE if problem else ErrorReason.NOT_FOUND
        message = problem or f"PersistentVolumeClaim {follow.claim!r} not found"
        # Counted once per slot, so re-reading in the same slot changes nothing.
        when = rfc3339(slot_start(slot_of(now, interval), interval))
        return _failed(row, reason.value, message, when=when, upcoming=upcoming)
    latest = newest_finished(checks)
    last = parse(row.last_check_time)
    if latest is None or latest.observation is None or latest.finished_at is None:
        return row.model_copy(update={"next_check_time": upcoming})
    if last is not None and latest.finished_at.replace(microsecond=0) <= last:
        return row.model_copy(update={"next_check_time": upcoming})
    when = rfc3339(latest.finished_at)
    error = latest.observation.error
    if error is not None:
        return _failed(row, error.reason.value, error.message, when=when, upcoming=upcoming)
    value = latest.observation.value
    changed = value != row.resolved
    return row.model_copy(
        update={
            "resolved": value,
            "resolved_time": when if changed or row.resolved_time is None else row.resolved_time,
            "last_check_time": when,
            "next_check_time": upcoming,
            "reason": None,
            "error": None,
            "consecutive_failures": 0,
        }
    )


def due_slot(
    row: SourceStatus,
    *,
    follow: PvcFollow,
    checks: tuple[SeenCheck, ...],
    claim_exists: bool,
    now: datetime,
) -> int | None:
    """The slot to start a check for now, or None (one is running, or this slot is done)."""
    if not claim_exists or uri_problem(follow.uri) or any(c.finished_at is None for c in checks):
        return None
    slot = slot_of(now, follow.interval_seconds)
    if any(c.slot == slot for c in checks):
        return None
    # A check of this slot whose Job is gone already; after a failure (a claim that
    # was missing, say) the slot is tried again as soon as it can be.
    last = parse(row.last_check_time)
    began = slot_start(slot, follow.interval_seconds).replace(microsecond=0)
    return None if last is not None and row.reason is None and last >= began else slot


def newest_finished(checks: tuple[SeenCheck, ...]) -> SeenCheck | None:
    finished = [c for c in checks if c.finished_at is not None]
    return max(finished, key=lambda c: c.slot, default=None)


def stale(checks: tuple[SeenCheck, ...]) -> list[SeenCheck]:
    """Finished checks older than the newest: their results are folded or superseded."""
    keep = newest_finished(checks)
    return [c for c in checks if c.finished_at is not None and c is not keep]


def wait_seconds(row: SourceStatus, *, now: datetime) -> float | None:
    """Seconds until the next slot, so the operator wakes to start that check."""
    upcoming = parse(row.next_check_time)
    return None if upcoming is None else max(1.0, (upcoming - now).total_seconds())


def _base(before: SourceStatus | None, follow: PvcFollow) -> SourceStatus:
    """The previous row if it described this same source; a fresh one otherwise."""
    if before is not None and before.kind == SourceKind.PVC.value and before.url == follow.uri:
        return before.model_copy()
    return SourceStatus(name=ROLE, kind=SourceKind.PVC.value, url=follow.uri)


def _failed(
    row: SourceStatus, reason: str, message: str, *, when: str | None, upcoming: str | None
) -> SourceStatus:
    """An error row: counted once per check, the last resolved value kept."""
    again = row.last_check_time == when and row.reason == reason
    failures = row.consecutive_failures + (0 if again else 1)
    return row.model_copy(
        update={
            "last_check_time": when,
            "next_check_time": upcoming,
            "reason": reason,
            "error": message,
            "consecutive_failures": failures,
        }
    )


def follow_pvc_dataset(d: Decided) -> Part:
    """Put the PVC dataset's row and version where the other sources put theirs."""
    follow, now = pvc_follow(d.spec), parse(d.now)
    if follow is None or now is None:
        return NOTHING
    obs = d.obs
    before = next((r for r in d.previous.sources if r.name == ROLE), None)
    row = fold(
        before, follow=follow, checks=obs.dataset_checks,
        claim_exists=obs.dataset_claim_exists, now=now,
    )  # fmt: skip
    changed = parse(row.resolved_time)
    filled = replace(
        obs,
        resolved=replace(obs.resolved or Resolved(), dataset_version=row.resolved),
        sources=tuple(sorted([*(r for r in obs.sources if r.name != ROLE), row], key=_name)),
        source_changes=tuple(sorted([*obs.source_changes, *([changed] if changed else [])])),
    )
    actions: list[Action] = []
    slot = due_slot(
        row, follow=follow, checks=obs.dataset_checks,
        claim_exists=obs.dataset_claim_exists, now=now,
    )  # fmt: skip
    if slot is not None:
        check = HashCheck(
            namespace=obs.metadata.namespace, pipeline=obs.metadata.name, claim=follow.claim,
            path=follow.path, image=d.spec.code.image, slot=slot,
            owner=owner_reference(obs.metadata),
        )  # fmt: skip
        actions.append(CreateJob(build_job(check)))
    for old in stale(obs.dataset_checks):
        actions.append(DeleteJob(old.name, "an older dataset hash check"))
    return Part(obs=filled, actions=tuple(actions))


def wake_for_dataset_check(d: Decided) -> Part:
    """Reconcile again when the next check's slot begins (the Job watch covers its end)."""
    now = parse(d.now)
    row = next((r for r in d.obs.sources if r.name == ROLE and r.kind == "pvc"), None)
    if row is None or now is None or pvc_follow(d.spec) is None:
        return NOTHING
    wait = wait_seconds(row, now=now)
    return NOTHING if wait is None else wake_after(wait)


def _name(row: SourceStatus) -> str:
    return row.name
