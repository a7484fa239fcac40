"""Token buckets, one per key: per server host, and per namespace.

Sharing already collapses many pipelines on one source into one request; the
per-host bucket protects a server from many *different* sources on it (300
pipelines each following their own branch of one repository host), since that
is what a server's own rate limit counts.

The per-namespace buckets share the pollers out fairly (``modelpipe.sources.limits``):
one counts checks, one counts downloaded bytes (a cost per chunk), so one
namespace's sources cannot take the time and bandwidth of everyone else's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from modelpipe.planning.clock import Clock


@dataclass(frozen=True)
class TokenBucket:
    rate_per_second: float
    burst: float
    tokens: float
    updated: float  # clock seconds (monotonic)

    @classmethod
    def full(cls, *, rate_per_second: float, burst: float, now: float) -> TokenBucket:
        return cls(rate_per_second=rate_per_second, burst=burst, tokens=burst, updated=now)

    def take(self, *, now: float, cost: float = 1.0) -> tuple[TokenBucket, float]:
        """Take ``cost`` tokens: the new bucket and how long to wait before using them (0 = now).

        The tokens are reserved even when the caller has to wait, so concurrent
        callers queue up in order instead of all waking at once.
        """
        refilled = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_second)
        left = refilled - cost
        wait = 0.0 if left >= 0 else -left / self.rate_per_second
        return replace(self, tokens=left, updated=now), wait


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.hostname or parts.path or url).lower()


class RateLimiter:
    """Async front of the buckets; the arithmetic lives in :class:`TokenBucket`."""

    def __init__(self, *, clock: Clock, rate_per_second: float, burst: float) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self._clock = clock
        self._rate = rate_per_second
        self._burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self.waited_seconds = 0.0

    async def acquire(self, key: str, cost: float = 1.0) -> None:
        """Wait until ``key``'s bucket holds ``cost`` tokens (a host, or a namespace)."""
        now = self._clock.monotonic()
        bucket = self._buckets.get(key) or TokenBucket.full(
            rate_per_second=self._rate, burst=self._burst, now=now
        )
        self._buckets[key], wait = bucket.take(now=now, cost=cost)
        if wait > 0:
            self.waited_seconds += wait
            await self._clock.sleep(wait)
        else:
            await asyncio.sleep(0)
