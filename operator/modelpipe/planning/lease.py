"""Leader election over a coordination.k8s.io Lease: what a candidate does next, purely.

client-go's rules (``tools/leaderelection``): the holder renews the Lease every
``retry`` seconds; a candidate takes it only after it has watched the same record go
unrenewed for ``leaseDurationSeconds`` by its own clock (never by the timestamps in
the record, so clock skew between nodes cannot make two leaders); a holder that could
not renew for ``renew_deadline`` (shorter than the duration) stops acting before
anyone may take over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Step(StrEnum):
    CREATE = "create"  # no Lease yet
    RENEW = "renew"  # ours
    TAKE = "take"  # free, or its holder stopped renewing
    WAIT = "wait"  # another candidate holds it


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    duration_seconds: int
    renew_time: str  # as written (MicroTime); compared for change, never for time
    transitions: int
    resource_version: str


@dataclass(frozen=True)
class Sighting:
    """A record and when this candidate first saw it unchanged (its own clock)."""

    record: LeaseRecord
    since: datetime


def next_step(
    record: LeaseRecord | None, last: Sighting | None, *, me: str, now: datetime
) -> tuple[Step, Sighting | None]:
    """What to do with the Lease as read now; and the sighting to remember."""
    if record is None:
        return Step.CREATE, None
    if record.holder == me:
        return Step.RENEW, Sighting(record, now)
    seen = (
        last
        if last is not None
        and (last.record.holder, last.record.renew_time) == (record.holder, record.renew_time)
        else Sighting(record, now)
    )
    if not record.holder:
        return Step.TAKE, seen
    if (now - seen.since).total_seconds() >= record.duration_seconds:
        return Step.TAKE, seen
    return Step.WAIT, seen
