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

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from modelpipe.sources.model import ErrorReason, SourceKey
from modelpipe.sources.polling import PollState

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


class SourceStatus(BaseModel):
    """One followed source: what it resolved to, when it was checked, and its last error."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    name: str = Field(description="Which input it feeds: code, dataset or manifest.")
    kind: str = Field(description="git, http or manifest.")
    url: str = Field(description="Repository or file URL (never with credentials).")
    ref: str | None = Field(default=None, description="Followed branch or tag (git).")
    resolved: str | None = Field(default=None, description="Last resolved value (SHA, version).")
    resolved_time: str | None = Field(default=None, description="When that value was first seen.")
    last_check_time: str | None = Field(default=None, description="When it was last checked.")
    next_check_time: str | None = Field(default=None, description="When it is checked next.")
    reason: str | None = Field(default=None, description="Why the last check failed.")
    error: str | None = Field(default=None, description="The last check's error, if it failed.")
    consecutive_failures: int = Field(default=0, description="Failed checks in a row.")

    def where(self) -> str:
        """``code (https://host/repo.git@main)``: which source, for messages."""
        return f"{self.name} ({self.url}{'@' + self.ref if self.ref else ''})"


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


def rfc3339(when: datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None


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
