"""What a poller knows about one source, and how one check changes it — pure.

::

      (no result) --check ok--> Resolved(value) --check ok, same value--> Resolved
           |                        |      \\--check ok, new value--> Resolved(new), change recorded
           |                        |
           +--check failed--> Failing(n, last known value kept) --check ok--> Resolved
                                 next check after a jittered exponential back-off

A failure never clears the last known value: the pipeline keeps its inputs,
shows the error, and nothing runs because of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from modelpipe.api.sources import Observation, SourceError, Validators

CHANGE_HISTORY = 20


@dataclass(frozen=True)
class Backoff:
    """Retry delays after failures: ``base * 2**(n-1)`` capped, minus up to ``jitter`` of it.

    "Equal jitter" keeps the delay within ``[(1-jitter)·d, d]``: pollers that failed
    together (a server went down) spread out, yet none retries sooner than half
    the nominal delay.
    """

    base_seconds: float = 10.0
    cap_seconds: float = 300.0
    jitter: float = 0.5

    def delay(self, *, failures: int, interval: float, random_unit: float) -> float:
        # Never slower than normal polling, so a fixed source is noticed in time.
        base = min(self.base_seconds, interval)
        cap = max(self.cap_seconds, interval)
        nominal = min(cap, base * 2.0 ** max(0, failures - 1))
        return nominal * (1.0 - self.jitter * random_unit)


@dataclass(frozen=True)
class PollState:
    value: str | None = None
    resolved_time: datetime | None = None
    last_check_time: datetime | None = None
    last_success_time: datetime | None = None
    error: SourceError | None = None
    consecutive_failures: int = 0
    next_check_time: datetime | None = None
    validators: Validators | None = None
    change_times: tuple[datetime, ...] = ()

    def due(self, now: datetime) -> bool:
        return self.next_check_time is None or now >= self.next_check_time


def advance(
    state: PollState,
    observation: Observation,
    *,
    now: datetime,
    interval_seconds: float,
    backoff: Backoff,
    random_unit: float,
) -> PollState:
    """Fold one check into the state and schedule the next check."""
    checked = replace(state, last_check_time=now)
    if observation.error is not None:
        failures = state.consecutive_failures + 1
        delay = backoff.delay(failures=failures, interval=interval_seconds, random_unit=random_unit)
        if observation.retry_after_seconds is not None:
            delay = max(delay, observation.retry_after_seconds)
        return replace(
            checked,
            error=observation.error,
            consecutive_failures=failures,
            next_check_time=now + timedelta(seconds=delay),
            # Validators are dropped so the next request is unconditional: a 304
            # must only ever confirm a value we actually hold.
            validators=None,
        )
    value = state.value if observation.not_modified else observation.value
    changed = value != state.value
    return replace(
        checked,
        value=value,
        resolved_time=now if changed or state.resolved_time is None else state.resolved_time,
        last_success_time=now,
        error=None,
        consecutive_failures=0,
        next_check_time=now + timedelta(seconds=interval_seconds),
        validators=observation.validators,
        change_times=(*state.change_times, now)[-CHANGE_HISTORY:]
        if changed
        else state.change_times,
    )


def reschedule(state: PollState, *, now: datetime) -> PollState:
    """Check as soon as possible (new credentials, or a subscriber wanting a shorter interval)."""
    return replace(state, next_check_time=now)


def next_due(state: PollState, *, interval_seconds: float, now: datetime) -> datetime:
    """When the next check should run, given the interval subscribers want *now*.

    A failing source keeps its back-off; a healthy one is checked one interval
    after its last check, even if the interval shrank since it was scheduled.
    """
    if state.last_check_time is None or state.next_check_time is None:
        return now
    if state.error is not None:
        return state.next_check_time
    by_interval = state.last_check_time + timedelta(seconds=interval_seconds)
    return min(state.next_check_time, by_interval)
