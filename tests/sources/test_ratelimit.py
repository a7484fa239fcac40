"""Token buckets: pure arithmetic, then the async limiter on a test clock."""

from __future__ import annotations

import asyncio

import pytest
from tests.sources.conftest import ManualClock, eventually

from modelpipe.sources.ratelimit import RateLimiter, TokenBucket, host_of


def test_burst_then_rate() -> None:
    bucket = TokenBucket.full(rate_per_second=2, burst=3, now=0)
    waits = []
    for _ in range(5):
        bucket, wait = bucket.take(now=0)
        waits.append(wait)
    assert waits == [0, 0, 0, 0.5, 1.0]


def test_refill_is_capped_at_burst() -> None:
    bucket = TokenBucket.full(rate_per_second=1, burst=2, now=0)
    bucket, _ = bucket.take(now=0)
    bucket, wait = bucket.take(now=100)
    assert wait == 0 and bucket.tokens == 1


@pytest.mark.parametrize(
    ("url", "host"),
    [("https://GitHub.com/a/b.git", "github.com"), ("ssh://git@h:22/r", "h"), ("git://h/r", "h")],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


async def test_limiter_delays_past_the_burst(clock: ManualClock) -> None:
    limiter = RateLimiter(clock=clock, rate_per_second=1, burst=2)
    done: list[int] = []

    async def one(n: int) -> None:
        await limiter.acquire("h")
        done.append(n)

    tasks = [asyncio.create_task(one(n)) for n in range(4)]
    await eventually(lambda: clock.sleepers == 2)  # the burst went through; two wait
    assert sorted(done) == [0, 1]
    clock.advance(1)
    await eventually(lambda: len(done) == 3)
    assert sorted(done) == [0, 1, 2]
    clock.advance(1)
    await asyncio.gather(*tasks)
    assert limiter.waited_seconds == 3.0
    await limiter.acquire("other-host")  # another host has its own bucket


def test_limiter_rejects_nonsense(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        RateLimiter(clock=clock, rate_per_second=0, burst=1)
