"""Status shapes, the SourcesReady condition and input precedence."""

from __future__ import annotations

from datetime import UTC, datetime

from modelpipe.api.sources import ErrorReason, SourceError, SourceKey, SourceKind
from modelpipe.planning.polling import PollState
from modelpipe.planning.sourcestatus import (
    InputOrigin,
    SourcesReadyReason,
    effective_value,
    source_status,
    sources_ready,
)

T = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
GIT = SourceKey(SourceKind.GIT, "https://git.example/r.git", "main")
DATA = SourceKey(SourceKind.HTTP, "https://data.example/d.csv", max_bytes=10)
OK = PollState(value="abc", resolved_time=T, last_check_time=T)
DOWN = PollState(
    value="abc", resolved_time=T, last_check_time=T, consecutive_failures=3,
    error=SourceError(ErrorReason.UNREACHABLE, "cannot reach the server"),
)  # fmt: skip


def test_pinned_wins_over_followed() -> None:
    assert effective_value(pinned="v9", followed=OK).origin is InputOrigin.PINNED
    followed = effective_value(pinned=None, followed=OK)
    assert (followed.value, followed.origin, followed.resolved_time) == (
        "abc",
        InputOrigin.FOLLOWED,
        T,
    )
    assert effective_value(pinned=None, followed=PollState()).value is None
    assert effective_value(pinned=None, followed=DOWN).value == "abc"  # last known value is kept


def test_status_shape_is_camel_case() -> None:
    dumped = source_status("code", GIT, DOWN).model_dump(by_alias=True, exclude_none=True)
    assert dumped == {
        "name": "code", "kind": "git", "url": "https://git.example/r.git", "ref": "main",
        "resolved": "abc", "resolvedTime": "2026-11-27T12:00:00Z",
        "lastCheckTime": "2026-11-27T12:00:00Z",
        "reason": "Unreachable", "error": "cannot reach the server", "consecutiveFailures": 3,
    }  # fmt: skip


def test_sources_ready() -> None:
    ok = source_status("code", GIT, OK)
    down = source_status("dataset", DATA, DOWN)
    pending = source_status("dataset", DATA, PollState())
    assert sources_ready([ok], schedule_problem=None).reason is SourcesReadyReason.RESOLVED
    assert sources_ready([], schedule_problem=None).reason is SourcesReadyReason.NOTHING_FOLLOWED
    waiting = sources_ready([ok, pending], schedule_problem=None)
    assert (waiting.status, waiting.reason) == (False, SourcesReadyReason.RESOLVING)
    failing = sources_ready([ok, down], schedule_problem=None)
    assert (failing.status, failing.reason) == (False, SourcesReadyReason.UNREACHABLE)
    assert (
        "keeping the last resolved inputs" in failing.message
        and "3 failed checks" in failing.message
    )
    bad_cron = sources_ready(
        [ok], schedule_problem="schedule '61 * * * *' is not valid cron syntax"
    )
    assert bad_cron.reason is SourcesReadyReason.INVALID_SCHEDULE


def test_every_error_reason_is_a_condition_reason() -> None:
    for reason in ErrorReason:
        assert SourcesReadyReason(reason.value).value == reason.value
