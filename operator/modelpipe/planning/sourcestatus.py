"""How followed sources show up in status, and which value a run uses — pure.

Precedence, per input: a pinned value in the spec (``spec.code.revision``,
``spec.dataset.version``) always wins; otherwise the value resolved from the
followed source; otherwise there is no input yet and nothing runs. A source that
fails keeps its last resolved value, so a pipeline keeps its inputs during an
outage and the ``SourcesReady`` condition carries the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from modelpipe.api.sources import ErrorReason, SourceKey
from modelpipe.api.v1alpha1.status import SourceStatus
from modelpipe.planning.clock import rfc3339
from modelpipe.planning.polling import PollState

CONDITION_TYPE = "SourcesReady"


class SourcesReadyReason(StrEnum):
    RESOLVED = "Resolved"
    RESOLVING = "Resolving"
    NOTHING_FOLLOWED = "NothingFollowed"
    INVALID_SCHEDULE = "InvalidSchedule"
    REF_NOT_FOUND = ErrorReason.REF_NOT_FOUND.value
    NOT_FOUND = ErrorReason.NOT_FOUND.value
    AUTH_FAILED = ErrorReason.AUTH_FAILED.value
    CREDENTIALS_REFUSED = ErrorReason.CREDENTIALS_REFUSED.value
    DESTINATION_REFUSED = ErrorReason.DESTINATION_REFUSED.value
    UNREACHABLE = ErrorReason.UNREACHABLE.value
    TIMEOUT = ErrorReason.TIMEOUT.value
    SERVER_ERROR = ErrorReason.SERVER_ERROR.value
    RATE_LIMITED = ErrorReason.RATE_LIMITED.value
    NOT_DATA = ErrorReason.NOT_DATA.value
    TOO_LARGE = ErrorReason.TOO_LARGE.value
    INVALID_MANIFEST = ErrorReason.INVALID_MANIFEST.value
    INVALID_SOURCE = ErrorReason.INVALID_SOURCE.value


class InputOrigin(StrEnum):
    PINNED = "Pinned"
    FOLLOWED = "Followed"


@dataclass(frozen=True)
class EffectiveValue:
    value: str | None
    origin: InputOrigin | None
    resolved_time: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    """The ``SourcesReady`` condition, before the operator turns it into its Condition type."""

    status: bool
    reason: SourcesReadyReason
    message: str


def effective_value(*, pinned: str | None, followed: PollState | None) -> EffectiveValue:
    if pinned:
        return EffectiveValue(pinned, InputOrigin.PINNED)
    if followed is not None and followed.value is not None:
        return EffectiveValue(followed.value, InputOrigin.FOLLOWED, followed.resolved_time)
    return EffectiveValue(None, None)


def source_status(name: str, key: SourceKey, state: PollState) -> SourceStatus:
    return SourceStatus(
        name=name,
        kind=key.kind.value,
        url=key.url,
        ref=key.ref or None,
        resolved=state.value,
        resolved_time=rfc3339(state.resolved_time),
        last_check_time=rfc3339(state.last_check_time),
        next_check_time=rfc3339(state.next_check_time),
        reason=state.error.reason.value if state.error else None,
        error=state.error.message if state.error else None,
        consecutive_failures=state.consecutive_failures,
    )


def sources_ready(statuses: Sequence[SourceStatus], *, schedule_problem: str | None) -> Verdict:
    """Summarise every followed source (and the schedule) into one condition."""
    if schedule_problem:
        return Verdict(False, SourcesReadyReason.INVALID_SCHEDULE, schedule_problem)
    failing = [s for s in statuses if s.reason]
    if failing:
        first = failing[0]
        assert first.reason is not None
        parts = [
            f"{s.where()}: {s.reason}: {s.error} [{s.consecutive_failures} failed checks]"
            for s in failing
        ]
        kept = "; keeping the last resolved inputs" if any(s.resolved for s in failing) else ""
        return Verdict(False, SourcesReadyReason(first.reason), "; ".join(parts) + kept)
    waiting = [s.name for s in statuses if s.resolved is None]
    if waiting:
        return Verdict(
            False,
            SourcesReadyReason.RESOLVING,
            f"waiting for the first check of {', '.join(waiting)}",
        )
    if not statuses:
        return Verdict(
            True, SourcesReadyReason.NOTHING_FOLLOWED, "no source is followed; inputs are pinned"
        )
    names = ", ".join(f"{s.name}={s.resolved}" for s in statuses)
    return Verdict(True, SourcesReadyReason.RESOLVED, f"resolved {names}")
