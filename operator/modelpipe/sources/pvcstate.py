"""A followed dataset on a PVC: its ``status.sources`` row and when to check it — pure.

The pollers of git and HTTP sources live in memory; a PVC is checked by a Job
(:mod:`modelpipe.sources.pvc`), so its state is what the API holds: the row
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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.sources.durations import parse_duration
from modelpipe.sources.model import ErrorReason, Observation, SourceKind
from modelpipe.sources.pvc import parse_uri, uri_problem
from modelpipe.sources.status import SourceStatus, rfc3339

ROLE = "dataset"
DEFAULT_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class PvcFollow:
    """A spec's unpinned ``pvc://`` dataset."""

    uri: str
    claim: str
    path: str
    interval_seconds: float


@dataclass(frozen=True)
class SeenCheck:
    """One hash Job of this pipeline's current source, as read from the API."""

    name: str
    slot: int
    # When it finished (completion or failure); None while it runs.
    finished_at: datetime | None = None
    # Its result from the termination message; None while it runs.
    observation: Observation | None = None


def follows_pvc(spec: ModelPipelineSpec) -> PvcFollow | None:
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
    last = _parse(row.last_check_time)
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
    last = _parse(row.last_check_time)
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
    upcoming = _parse(row.next_check_time)
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


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
