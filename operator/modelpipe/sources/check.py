"""One check of one followed source: the interface every source type implements.

A source type is a module with ``async def check(c: Check) -> Observation``,
registered in :mod:`modelpipe.sources.kinds`. The registry builds a :class:`Check`
per poll; each type takes what it needs (git needs no HTTP client, a dataset URL
needs no ref) and does its own I/O, through the egress guard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from modelpipe.api.sources import Credentials, Observation, SourceKey, Validators
from modelpipe.sources.egress import EgressPolicy
from modelpipe.sources.egress_guard import Resolver


@dataclass(frozen=True)
class Check:
    """Everything one check of one source may use."""

    key: SourceKey
    credentials: Credentials | None
    # Cache validators from the last full answer, for a conditional request.
    previous: Validators | None
    now: datetime
    # Shared, egress-guarded (modelpipe.sources.egress_guard).
    client: httpx.AsyncClient
    # Waits for the namespace's share of downloaded bytes (modelpipe.sources.limits).
    throttle: Callable[[int], Awaitable[None]]
    timeout_seconds: float
    egress: EgressPolicy
    resolver: Resolver


Checker = Callable[[Check], Awaitable[Observation]]
