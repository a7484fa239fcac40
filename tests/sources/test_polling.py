"""One check folded into a poller's state: table-driven, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelpipe.api.sources import ErrorReason, Observation, Validators
from modelpipe.planning.polling import Backoff, PollState, advance, next_due, reschedule

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BACKOFF = Backoff(base_seconds=10, cap_seconds=300, jitter=0.5)
DOWN = Observation.failed(ErrorReason.UNREACHABLE, "down")


def step(state: PollState, observation: Observation, *, at: float, unit: float = 0.0) -> PollState:
    return advance(
        state, observation, now=T0 + timedelta(seconds=at), interval_seconds=60, backoff=BACKOFF,
        random_unit=unit,
    )  # fmt: skip


def test_first_value_and_unchanged_value() -> None:
    first = step(PollState(), Observation(value="sha1"), at=0)
    assert (first.value, first.resolved_time, first.change_times) == ("sha1", T0, (T0,))
    assert first.next_check_time == T0 + timedelta(seconds=60)
    same = step(first, Observation(value="sha1"), at=60)
    assert same.resolved_time == T0 and same.change_times == (T0,)
    assert same.last_check_time == T0 + timedelta(seconds=60)


def test_new_value_records_a_change() -> None:
    changed = step(step(PollState(), Observation(value="a"), at=0), Observation(value="b"), at=60)
    assert changed.value == "b" and changed.resolved_time == T0 + timedelta(seconds=60)
    assert len(changed.change_times) == 2


def test_not_modified_keeps_the_value_and_validators() -> None:
    first = step(PollState(), Observation(value="etag:1", validators=Validators(etag="1")), at=0)
    again = step(first, Observation(not_modified=True, validators=Validators(etag="1")), at=60)
    assert (
        again.value == "etag:1"
        and again.resolved_time == T0
        and again.validators == Validators(etag="1")
    )


def test_failures_keep_the_last_value_and_back_off() -> None:
    state = step(PollState(), Observation(value="a", validators=Validators(etag="1")), at=0)
    delays = []
    for n in range(1, 8):
        state = step(state, DOWN, at=60 * n)
        assert state.value == "a" and state.consecutive_failures == n
        assert state.validators is None  # next request is unconditional
        delays.append((state.next_check_time - state.last_check_time).total_seconds())  # type: ignore[operator]
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    recovered = step(state, Observation(value="a"), at=2000)
    assert (
        recovered.error is None
        and recovered.consecutive_failures == 0
        and recovered.resolved_time == T0
    )


@pytest.mark.parametrize(("unit", "expected"), [(0.0, 40.0), (0.5, 30.0), (0.999, 20.02)])
def test_jitter_stays_within_half_the_delay(unit: float, expected: float) -> None:
    assert BACKOFF.delay(failures=3, interval=60, random_unit=unit) == pytest.approx(expected)


def test_backoff_never_slower_than_the_interval_base() -> None:
    assert BACKOFF.delay(failures=1, interval=2, random_unit=0) == 2
    assert BACKOFF.delay(failures=20, interval=3600, random_unit=0) == 3600


def test_retry_after_is_honoured() -> None:
    state = step(
        PollState(),
        Observation.failed(ErrorReason.RATE_LIMITED, "429", retry_after_seconds=120),
        at=0,
    )
    assert state.next_check_time == T0 + timedelta(seconds=120)


def test_next_due() -> None:
    assert next_due(PollState(), interval_seconds=60, now=T0) == T0
    healthy = step(PollState(), Observation(value="a"), at=0)
    assert next_due(healthy, interval_seconds=10, now=T0) == T0 + timedelta(seconds=10)  # shrunk
    failing = step(healthy, DOWN, at=0)
    assert next_due(failing, interval_seconds=1, now=T0) == T0 + timedelta(seconds=10)
    assert next_due(reschedule(failing, now=T0), interval_seconds=60, now=T0) == T0
