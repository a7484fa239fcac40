"""Time in the operator: the one Clock, and timestamps as the Kubernetes API writes them.

Nothing reads the wall clock on its own. The running operator injects
``k8s.systemclock.SystemClock`` (the reconciler, the leader elector and, through the
reconciler, the source pollers share it); tests inject a clock they move by hand, and
``plan()`` takes ``now`` as a value. Every timestamp the operator writes goes through
:func:`rfc3339` and every one it reads through :func:`parse`, so all of them are UTC
and compare as such.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, overload


class Clock(Protocol):
    """Where the operator reads the time and waits."""

    def now(self) -> datetime:
        """Wall-clock time (UTC, aware) for status fields, schedules and Leases."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals; never jumps backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait on the pollers' event loop (a test's clock wakes sleepers as it moves)."""
        ...


@overload
def rfc3339(moment: datetime, *, micro: bool = False) -> str: ...
@overload
def rfc3339(moment: None, *, micro: bool = False) -> None: ...
def rfc3339(moment: datetime | None, *, micro: bool = False) -> str | None:
    """``2026-11-27T12:00:00Z``: whole seconds (a Time field), or with ``micro`` six
    digits of them (a MicroTime field, e.g. a Lease's renewTime). A naive time is UTC."""
    if moment is None:
        return None
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def parse(text: str | None) -> datetime | None:
    """A timestamp the API (or :func:`rfc3339`) wrote; ``None`` for a missing one."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_between(start: str | None, end: str) -> float | None:
    began, ended = parse(start), parse(end)
    if began is None or ended is None:
        return None
    return max(0.0, (ended - began).total_seconds())
