"""Debounce decisions: state in, decision out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelpipe.planning.debounce import DebouncePolicy, DebounceReason, debounce

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


POLICY = DebouncePolicy(min_interval=timedelta(minutes=10), quiet_period=timedelta(seconds=60))


@pytest.mark.parametrize(
    ("changes", "last_run", "now", "reason", "not_before"),
    [
        # one push, quiet period not over yet, then over
        ([at(0)], None, at(30), DebounceReason.QUIET_PERIOD, at(60)),
        ([at(0)], None, at(60), DebounceReason.READY, None),
        # a burst: the quiet period counts from the last push
        ([at(0), at(20), at(50)], None, at(100), DebounceReason.QUIET_PERIOD, at(110)),
        ([at(0), at(20), at(50)], None, at(110), DebounceReason.READY, None),
        # minimum interval since the last run start
        ([at(700)], at(600), at(1000), DebounceReason.MIN_INTERVAL, at(1200)),
        ([at(700)], at(600), at(1200), DebounceReason.READY, None),
        # both pending: report whichever ends later
        ([at(1190)], at(600), at(1195), DebounceReason.QUIET_PERIOD, at(1250)),
        # changes before the last run are not part of the burst
        ([at(100)], at(600), at(1300), DebounceReason.READY, None),
        # no known detection time (operator restarted): only the min interval applies
        ([], None, at(0), DebounceReason.READY, None),
    ],
)
def test_debounce(
    changes: list[datetime], last_run: datetime | None, now: datetime,
    reason: DebounceReason, not_before: datetime | None,
) -> None:  # fmt: skip
    decision = debounce(changes=changes, last_run_start=last_run, now=now, policy=POLICY)
    assert (decision.reason, decision.not_before) == (reason, not_before)
    assert decision.start is (reason is DebounceReason.READY)
    assert decision.message


def test_a_steady_stream_is_not_postponed_forever() -> None:
    pushes = [at(s) for s in range(0, 1000, 30)]  # every 30 s, quiet period is 60 s
    policy = DebouncePolicy(quiet_period=timedelta(seconds=60))  # fold limit = 600 s
    assert not debounce(changes=pushes[:20], last_run_start=None, now=at(590), policy=policy).start
    assert debounce(changes=pushes[:21], last_run_start=None, now=at(600), policy=policy).start


def test_zero_policy_runs_at_once() -> None:
    decision = debounce(changes=[T0], last_run_start=T0, now=T0, policy=DebouncePolicy())
    assert decision.start
