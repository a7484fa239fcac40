"""Shared polling: one asyncio task per followed source, however many pipelines follow it.

Pipelines *follow* sources through :meth:`SourceRegistry.follow`, which replaces
the pipeline's whole set of followed sources (so a spec that stops following a
branch releases it). Equal :class:`SourceKey`\\ s share one poller: one request
per interval, at the shortest interval any follower asked for. A poller with
no followers left is stopped and forgotten.

Nothing here talks to Kubernetes: the operator reads the Secret and passes
:class:`Credentials` in; it reads results back with :meth:`snapshot` (cheap,
cached) and can block on :meth:`wait_changed` in a kopf daemon, or just call
``snapshot`` from its reconcile. Decisions (what a check means, when the next
one is due) are the pure functions of :mod:`modelpipe.planning.polling`; what a
check does is its source type's (:mod:`modelpipe.sources.kinds`).

Each check is charged to one namespace — that of the follower asking for the
shortest interval, the one that sets the pace — and waits for that namespace's
share of checks and downloaded bytes (``limits.py``). Every connection goes
through the egress policy (``egress_guard.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from modelpipe.api.sources import Credentials, Observation, SourceKey
from modelpipe.planning.clock import Clock
from modelpipe.planning.polling import Backoff, PollState, advance, next_due, reschedule
from modelpipe.sources.check import Check
from modelpipe.sources.egress_guard import Resolver, guarded_client, resolve
from modelpipe.sources.kinds import CHECKERS
from modelpipe.sources.limits import SourceLimits
from modelpipe.sources.ratelimit import RateLimiter, host_of

logger = logging.getLogger("modelpipe.sources")


@dataclass(frozen=True)
class Follow:
    """One pipeline's wish to follow one source."""

    key: SourceKey
    interval_seconds: float
    credentials: Credentials | None = None


@dataclass(frozen=True)
class Snapshot:
    key: SourceKey
    state: PollState


@dataclass
class _Poller:
    key: SourceKey
    credentials: Credentials | None
    followers: dict[str, float] = field(default_factory=dict)
    state: PollState = field(default_factory=PollState)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def interval(self) -> float:
        return min(self.followers.values())

    @property
    def namespace(self) -> str:
        """The namespace charged for checks: its follower sets the pace (ties: by name)."""
        pacer = min(self.followers.items(), key=lambda item: (item[1], item[0]))[0]
        return pacer.split("/", 1)[0]


class SourceRegistry:
    def __init__(
        self,
        *,
        clock: Clock,
        limiter: RateLimiter,
        backoff: Backoff | None = None,
        timeout_seconds: float = 30.0,
        random_unit: Callable[[], float] = random.random,
        client: httpx.AsyncClient | None = None,
        limits: SourceLimits | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self._clock = clock
        self._limiter = limiter
        self._backoff = backoff or Backoff()
        self._timeout = timeout_seconds
        self._random_unit = random_unit
        self.limits = limits = limits or SourceLimits()
        self._resolver = resolver
        self._client = client or guarded_client(
            limits.egress, timeout_seconds=timeout_seconds, resolver=resolver
        )
        self._namespace_checks = RateLimiter(
            clock=clock, rate_per_second=limits.namespace_checks_per_second,
            burst=limits.namespace_checks_burst,
        )  # fmt: skip
        self._namespace_bytes = RateLimiter(
            clock=clock, rate_per_second=limits.namespace_bytes_per_second,
            burst=limits.namespace_bytes_burst,
        )  # fmt: skip
        self._pollers: dict[SourceKey, _Poller] = {}
        self._follows: dict[str, dict[str, Follow]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self.checks: Counter[SourceKey] = Counter()

    def follow(self, subscriber: str, follows: Mapping[str, Follow]) -> None:
        """Make ``subscriber`` follow exactly ``follows`` (role -> source); must run in the loop."""
        self._follows[subscriber] = dict(follows)
        self._changed.setdefault(subscriber, asyncio.Event())
        wanted = {f.key: f for f in follows.values()}
        for key, poller in list(self._pollers.items()):
            if key not in wanted and subscriber in poller.followers:
                self._release(poller, subscriber)
        for key, wish in wanted.items():
            self._attach(key, wish, subscriber)

    def forget(self, subscriber: str) -> None:
        self.follow(subscriber, {})
        self._follows.pop(subscriber, None)
        self._changed.pop(subscriber, None)

    def snapshot(self, subscriber: str) -> dict[str, Snapshot]:
        """The latest known state of each source ``subscriber`` follows, by role."""
        result = {}
        for role, wish in self._follows.get(subscriber, {}).items():
            poller = self._pollers.get(wish.key)
            result[role] = Snapshot(wish.key, poller.state if poller else PollState())
        return result

    async def wait_changed(self, subscriber: str, *, timeout_seconds: float) -> bool:
        """Wait until a source of ``subscriber`` changed value or health; False on timeout."""
        event = self._changed.setdefault(subscriber, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout_seconds)
        except TimeoutError:
            return False
        event.clear()
        return True

    async def close(self) -> None:
        tasks = [p.task for p in self._pollers.values() if p.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pollers.clear()
        await self._client.aclose()

    def _attach(self, key: SourceKey, wish: Follow, subscriber: str) -> None:
        poller = self._pollers.get(key)
        if poller is None:
            poller = self._pollers[key] = _Poller(key=key, credentials=wish.credentials)
            poller.task = asyncio.get_running_loop().create_task(
                self._run(poller), name=f"poll {key.describe()}"
            )
        wake = subscriber not in poller.followers or wish.interval_seconds < poller.interval
        poller.followers[subscriber] = wish.interval_seconds
        if wish.credentials != poller.credentials:
            # Rotated or fixed credentials: check now rather than after the back-off.
            poller.credentials = wish.credentials
            poller.state = reschedule(poller.state, now=self._clock.now())
            wake = True
        if wake:
            poller.wakeup.set()

    def _release(self, poller: _Poller, subscriber: str) -> None:
        poller.followers.pop(subscriber, None)
        if not poller.followers:
            del self._pollers[poller.key]
            if poller.task is not None:
                poller.task.cancel()

    async def _run(self, poller: _Poller) -> None:
        while poller.followers:
            now = self._clock.now()
            due = next_due(poller.state, interval_seconds=poller.interval, now=now)
            if due > now:
                await self._sleep(poller, (due - now).total_seconds())
                continue
            await self._limiter.acquire(host_of(poller.key.url))
            await self._namespace_checks.acquire(poller.namespace)
            observation = await self._check(poller)
            self.checks[poller.key] += 1
            before = poller.state
            poller.state = advance(
                before, observation, now=self._clock.now(), interval_seconds=poller.interval,
                backoff=self._backoff, random_unit=self._random_unit(),
            )  # fmt: skip
            if _visible_change(before, poller.state):
                self._log(poller)
                self._notify(poller)

    async def _sleep(self, poller: _Poller, seconds: float) -> None:
        poller.wakeup.clear()
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        waker = asyncio.ensure_future(poller.wakeup.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _check(self, poller: _Poller) -> Observation:
        namespace = poller.namespace

        async def throttle(size: int) -> None:
            await self._namespace_bytes.acquire(namespace, cost=size)

        check = Check(
            key=poller.key, credentials=poller.credentials, previous=poller.state.validators,
            now=self._clock.now(), client=self._client, throttle=throttle,
            timeout_seconds=self._timeout, egress=self.limits.egress, resolver=self._resolver,
        )  # fmt: skip
        return await CHECKERS[poller.key.kind](check)

    def _notify(self, poller: _Poller) -> None:
        for subscriber in poller.followers:
            event = self._changed.get(subscriber)
            if event is not None:
                event.set()

    def _log(self, poller: _Poller) -> None:
        state, what = poller.state, poller.key.describe()
        if state.error is not None:
            logger.warning(
                "Failed to check %s (%d in a row): %s: %s",
                what, state.consecutive_failures, state.error.reason.value, state.error.message,
            )  # fmt: skip
        else:
            logger.info("Resolved %s to %s", what, state.value)


def _visible_change(before: PollState, after: PollState) -> bool:
    """A new value, a new error, or recovery — not a routine identical check."""
    if before.value != after.value:
        return True
    reason_before = before.error.reason if before.error else None
    reason_after = after.error.reason if after.error else None
    return reason_before != reason_after or before.last_check_time is None
