"""Sends the plans' webhook notifications, off the reconcile pass, each retried a bounded time.

The plan lists every Pending row of ``status.notifications`` as a :class:`Notify` on each
pass; :meth:`Notifier.send` starts a delivery for one it has not seen and returns at once
(the pass never waits on a receiver). The delivery runs on the notifier's own event loop
through the egress guard of the source pollers (no metadata service, no in-cluster API
name, the platform's denied CIDRs; no redirect is followed, no proxy used), is cut at
``timeout_seconds`` in total, and is retried after a timeout, a failed connection, a 429
or a 5xx with the API client's jittered backoff (:mod:`modelpipe.k8s.backoff`). When it
ends, the pipeline is reconciled: the next pass reads :meth:`Notifier.finished` and
records the result in status, after which the plan stops listing it and it is forgotten.

Nothing the receiver says is kept or logged but its status code; the URL is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from modelpipe import metrics
from modelpipe.k8s.backoff import RetryPolicy, parse_retry_after, retry_delay
from modelpipe.k8s.systemclock import SYSTEM_CLOCK
from modelpipe.observed import Delivery, WebhookTarget
from modelpipe.planning import Notify
from modelpipe.planning.clock import Clock, rfc3339
from modelpipe.sources.egress import EgressPolicy
from modelpipe.sources.egress_guard import Resolver, guarded_client, refusal_of, resolve

logger = logging.getLogger("modelpipe.notifier")
# About 1 + 2 + 4 s of waiting (jittered) over four sends: a receiver that is down for a
# minute misses the notification, and the Notified condition says so.
WEBHOOK_RETRY = RetryPolicy(attempts=4, base_seconds=1.0, cap_seconds=8.0, budget_seconds=30.0)
_UNANSWERED = 503  # a timeout or a failed connection is retried like a 503

_THREAD = "notify"
Key = tuple[str, str]  # (webhook, notification id)


def _not_from_the_sender(record: logging.LogRecord) -> bool:
    """httpx logs every request's URL at INFO; a webhook's URL is a credential."""
    return record.threadName != _THREAD


OnDone = Callable[[str, str], None]


@dataclass(frozen=True)
class _Answer:
    delivered: bool
    status: int  # the HTTP status, or _UNANSWERED
    result: str
    retry_after: float | None = None
    final: bool = False  # refused by the egress policy: sending again cannot help


class Notifier:
    """A thread-safe front of the deliveries, which run on a private event loop."""

    def __init__(
        self,
        *,
        on_done: OnDone,
        policy: EgressPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        retry: RetryPolicy = WEBHOOK_RETRY,
        timeout_seconds: float = 5.0,
        resolver: Resolver = resolve,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._on_done, self._clock, self._retry, self._draw = on_done, clock, retry, draw
        self._timeout = timeout_seconds
        self._guard = threading.Lock()
        logging.getLogger("httpx").addFilter(_not_from_the_sender)  # added once however often
        # Per pipeline: every delivery started and not yet recorded (None while it runs).
        self._known: dict[Key, dict[Key, Delivery | None]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=_THREAD, daemon=True)
        self._thread.start()
        self._client = guarded_client(
            policy or EgressPolicy(), timeout_seconds=timeout_seconds, resolver=resolver
        )

    def send(
        self,
        namespace: str,
        name: str,
        intents: tuple[Notify, ...],
        targets: tuple[WebhookTarget, ...],
        *,
        pending: frozenset[Key],
    ) -> None:
        """Start what is new in ``intents``; forget the finished ones status no longer
        lists as ``pending`` (it recorded them; a plan held back lists them still)."""
        urls = {t.name: t.url for t in targets if t.problem is None and t.url}
        wanted = pending | {(i.webhook, i.id) for i in intents}
        with self._guard:
            known = self._known.setdefault((namespace, name), {})
            for key in [k for k, done in known.items() if done is not None and k not in wanted]:
                del known[key]
            new = [i for i in intents if (i.webhook, i.id) not in known and i.webhook in urls]
            for intent in new:
                known[(intent.webhook, intent.id)] = None
        for intent in new:
            coroutine = self._deliver(namespace, name, intent, urls[intent.webhook])
            asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def finished(self, namespace: str, name: str) -> tuple[Delivery, ...]:
        with self._guard:
            known = self._known.get((namespace, name), {})
            return tuple(done for done in known.values() if done is not None)

    def forget(self, namespace: str, name: str) -> None:
        with self._guard:
            self._known.pop((namespace, name), None)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _deliver(self, namespace: str, name: str, intent: Notify, url: str) -> None:
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            metrics.NOTIFICATION_SENDS.labels(namespace).inc()
            answer = await self._post(url, intent)
            delay = None
            if not (answer.delivered or answer.final):
                delay = retry_delay(
                    self._retry, attempt=attempt, status=answer.status,
                    retry_after=answer.retry_after, waited=waited, draw=self._draw(),
                )  # fmt: skip
            if delay is None:
                break
            waited += delay
            await self._clock.sleep(delay)
        result = answer.result if answer.delivered else f"{answer.result} after {attempt} attempts"
        done = Delivery(
            intent.webhook, intent.id, answer.delivered, attempt, result, rfc3339(self._clock.now())
        )
        outcome = "delivered" if answer.delivered else "failed"
        metrics.NOTIFICATIONS.labels(namespace, outcome).inc()
        log = logger.info if answer.delivered else logger.warning
        log(
            "%s notification %s of %s/%s to webhook %s (%s)",
            "Delivered" if answer.delivered else "Gave up on", intent.id, namespace, name,
            intent.webhook, result,
        )  # fmt: skip
        with self._guard:
            known = self._known.get((namespace, name))
            if known is not None and (intent.webhook, intent.id) in known:
                known[(intent.webhook, intent.id)] = done
        await self._loop.run_in_executor(None, self._reconcile, namespace, name)

    async def _post(self, url: str, intent: Notify) -> _Answer:
        """One send; only the status code of the answer is read (its body never is)."""
        try:
            async with asyncio.timeout(self._timeout):
                async with self._client.stream(
                    "POST", url, json=intent.body, follow_redirects=False
                ) as response:
                    status = response.status_code
                    retry_after = response.headers.get("retry-after")
        except (TimeoutError, httpx.TimeoutException):
            return _Answer(False, _UNANSWERED, "timed out")
        except httpx.HTTPError as error:  # its text may quote the URL: not used
            if refusal_of(error) is not None:
                return _Answer(False, 0, "refused by the operator's egress policy", final=True)
            return _Answer(False, _UNANSWERED, "connection failed")
        if 200 <= status < 300:
            return _Answer(True, status, f"HTTP {status}")
        moved = " (redirects are not followed)" if 300 <= status < 400 else ""
        wait = parse_retry_after(retry_after, now=self._clock.now())
        return _Answer(False, status, f"HTTP {status}{moved}", retry_after=wait)

    def _reconcile(self, namespace: str, name: str) -> None:
        try:
            self._on_done(namespace, name)
        except Exception:
            logger.exception("Reconcile of %s/%s after a notification failed", namespace, name)
