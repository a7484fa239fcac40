"""Writes the API server refused as invalid (400/422): back off, say so once, wait for an edit.

A spec that admission let through can still make objects the API server refuses (a
Service name with a dot, a quantity it cannot parse). Retrying such a write on every
pass kept the operator busy for nothing. So the reconciler remembers the refusal
(``Observed.refusal``, in memory, for the generation that caused it) and, until the
next attempt is due, the plan writes nothing but ``Ready=False InvalidSpec`` with the
API server's words (one Warning event) and a wake-up for that attempt::

    refused ─▶ held (no writes) ──due──▶ try again ─┬─ refused: held, backoff doubles
       ▲                                            └─ accepted: forgotten
       └── a spec edit (new generation) forgets it and tries at once

The backoff starts at ``BACKOFF_FIRST`` and doubles up to ``BACKOFF_MAX``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from modelpipe.observed import Observed, Refusal
from modelpipe.planning.clock import rfc3339
from modelpipe.planning.conditions import unusable_spec
from modelpipe.planning.outcome import Plan

BACKOFF_FIRST = 30.0
BACKOFF_MAX = 1800.0


def after_refusal(
    previous: Refusal | None, *, write: str, message: str, generation: int | None, now: datetime
) -> Refusal:
    """What to remember after a write was refused (again): one more attempt, twice the wait."""
    same = previous is not None and previous.generation == generation
    attempts = previous.attempts + 1 if previous is not None and same else 1
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempts - 1))
    return Refusal(
        generation=generation,
        write=write,
        message=message,
        attempts=attempts,
        retry_at=now + timedelta(seconds=delay),
    )


def current(refusal: Refusal | None, generation: int | None) -> Refusal | None:
    """The refusal still applies to this generation; a spec edit forgets it."""
    return refusal if refusal is not None and refusal.generation == generation else None


def holding(observed: Observed, now: datetime) -> bool:
    """No writes yet: this generation's refusal is known and its next attempt not due."""
    refusal = current(observed.refusal, observed.metadata.generation)
    return refusal is not None and now < refusal.retry_at


def held_plan(observed: Observed, now: datetime) -> Plan:
    refusal = observed.refusal
    assert refusal is not None
    return unusable_spec(
        observed,
        rfc3339(now),
        problem=f"the API server refused to {refusal.write}: {refusal.message}; fix the spec",
        detail=f" (attempt {refusal.attempts}; next at {rfc3339(refusal.retry_at)})",
        wake_after=max(1.0, (refusal.retry_at - now).total_seconds()),
    )
