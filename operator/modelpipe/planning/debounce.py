"""Debounce: when automatic triggers may start a run — pure.

Two knobs from ``spec.triggers``:

- ``quietPeriod``: wait until no new change was detected for this long, so a
  burst of pushes or data files becomes one run on the last of them;
- ``minInterval``: at least this long between two run starts.

A steady stream of changes closer together than the quiet period would
postpone a run forever, so folding stops after ``max_delay`` (ten quiet periods
by default) counted from the first change of the burst.

Only changes of followed sources are debounced. An edit of a pinned revision or
version is a deliberate act and runs at once, and so does a schedule slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from modelpipe.planning.clock import rfc3339

DEFAULT_MAX_DELAY_FACTOR = 10


class DebounceReason(StrEnum):
    QUIET_PERIOD = "WaitingForQuietPeriod"
    MIN_INTERVAL = "WaitingForMinInterval"
    READY = "Ready"


@dataclass(frozen=True)
class DebouncePolicy:
    min_interval: timedelta = timedelta(0)
    quiet_period: timedelta = timedelta(0)
    max_delay: timedelta | None = None

    @property
    def fold_limit(self) -> timedelta:
        return (
            self.max_delay
            if self.max_delay is not None
            else self.quiet_period * DEFAULT_MAX_DELAY_FACTOR
        )


@dataclass(frozen=True)
class Debounce:
    start: bool
    reason: DebounceReason
    not_before: datetime | None = None

    @property
    def message(self) -> str:
        when = f" until {rfc3339(self.not_before)}" if self.not_before else ""
        return {
            DebounceReason.QUIET_PERIOD: f"waiting for the quiet period{when}",
            DebounceReason.MIN_INTERVAL: f"waiting for the minimum interval between runs{when}",
            DebounceReason.READY: "inputs changed; starting a run",
        }[self.reason]


def debounce(
    *,
    changes: Sequence[datetime],
    last_run_start: datetime | None,
    now: datetime,
    policy: DebouncePolicy,
) -> Debounce:
    """Decide whether an automatic trigger (the inputs differ from the last run's) may
    start a run at ``now``.

    ``changes`` are the detection times known for the change. With no detection time
    known (e.g. after an operator restart) the quiet period is taken as over.
    """
    burst = sorted(c for c in changes if last_run_start is None or c > last_run_start)
    quiet_end = now
    if burst:
        quiet_end = min(burst[-1] + policy.quiet_period, burst[0] + policy.fold_limit)
    interval_end = last_run_start + policy.min_interval if last_run_start else now
    if quiet_end > now and quiet_end >= interval_end:
        return Debounce(start=False, reason=DebounceReason.QUIET_PERIOD, not_before=quiet_end)
    if interval_end > now:
        return Debounce(start=False, reason=DebounceReason.MIN_INTERVAL, not_before=interval_end)
    return Debounce(start=True, reason=DebounceReason.READY)
