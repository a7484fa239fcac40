"""observe → plan → execute for one pipeline, serialized per pipeline.

Several triggers (the pipeline itself, its Jobs, its Deployment, a requeue timer) may
fire together; a per-pipeline lock makes their reconciles run one after another, and
each reads the world afresh, so the last one always decides from the latest state.
A pass reads only once it holds the lock, so a trigger arriving while another pass
still waits for it is covered by that pass and returns at once: a burst of Job events
costs one or two passes, not one each (and no worker thread sits on the lock for it).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from modelpipe import metrics
from modelpipe.api.config import UNCONFIGURED, OperatorConfig
from modelpipe.k8s.bodies import UnreadableBody
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.execute import WriteRefused, execute
from modelpipe.k8s.gather import observe
from modelpipe.k8s.notifier import Notifier
from modelpipe.k8s.queue import (
    TrainingQueue,
    running_training_jobs,
    take_seat,
    with_local_queue,
)
from modelpipe.k8s.systemclock import SYSTEM_CLOCK
from modelpipe.observed import Observed, Refusal
from modelpipe.planning import Plan, plan, refusal
from modelpipe.planning.clock import Clock, rfc3339
from modelpipe.planning.queue import Limits
from modelpipe.sources.follower import SourceFollower
from modelpipe.sources.limits import SourceLimits

logger = logging.getLogger("modelpipe.reconciler")


class Timer(Protocol):
    daemon: bool

    def start(self) -> None: ...
    def cancel(self) -> None: ...


TimerFactory = Callable[[float, Callable[..., None], tuple[Any, ...]], Timer]


@dataclass(frozen=True)
class _Pending:
    due: datetime
    token: int
    timer: Timer


class WaitingPasses:
    """Which pipelines have a pass waiting for their lock (at most one each)."""

    def __init__(self) -> None:
        self._keys: set[tuple[str, str]] = set()
        self._guard = threading.Lock()

    def join(self, key: tuple[str, str]) -> bool:
        """``True``: run a pass (it now waits); ``False``: the waiting one covers this trigger."""
        with self._guard:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def started(self, key: tuple[str, str]) -> None:
        """The waiting pass holds the lock and is about to read: later triggers need another."""
        with self._guard:
            self._keys.discard(key)


class Reconciler:
    def __init__(
        self,
        api: KubeApi,
        *,
        clock: Clock = SYSTEM_CLOCK,
        follow_sources: bool = False,
        send_notifications: bool = False,
        timer: TimerFactory = threading.Timer,
        source_limits: SourceLimits | None = None,
        training_limits: Limits | None = None,
        namespaces: tuple[str, ...] | None = None,
        config: OperatorConfig = UNCONFIGURED,
    ) -> None:
        self.api = api
        self.config = config  # read once at start-up (modelpipe.main)
        self.clock = clock
        self._timer = timer
        self._tokens = itertools.count()
        # Shared pollers of followed git refs and datasets; a change reconciles its followers.
        self.follower = (
            SourceFollower(on_change=self._reconcile_logged, clock=clock, limits=source_limits)
            if follow_sources
            else None
        )
        # spec.notify's webhooks, sent off the pass through the pollers' egress policy.
        self.notifier = (
            Notifier(
                on_done=self._reconcile_logged,
                policy=(source_limits or SourceLimits()).egress,
                clock=clock,
            )
            if send_notifications
            else None
        )
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self._timers: dict[tuple[str, str], _Pending] = {}
        self._waiting = WaitingPasses()
        # Writes the API server refused as invalid, per pipeline: backing off (in memory).
        self._refusals: dict[tuple[str, str], Refusal] = {}
        # The limit on concurrent training Jobs (namespaces: the operator's scope, None = all).
        self.queue = (
            TrainingQueue(
                training_limits,
                wake=lambda namespace, name: self.requeue(namespace, name, 0.0),
                seed=lambda: running_training_jobs(api, namespaces),
            )
            if training_limits is not None and not training_limits.unlimited
            else None
        )

    def reconcile(self, namespace: str, name: str) -> None:
        """One full pass; schedules a later pass if the plan asks for one."""
        if not self._waiting.join((namespace, name)):
            return  # a pass that has not read anything yet will see this change
        with self._lock(namespace, name):
            self._waiting.started((namespace, name))
            metrics.RECONCILES.labels(namespace).inc()
            try:
                decided = self._pass(namespace, name)
            except Exception as error:
                metrics.RECONCILE_ERRORS.labels(namespace, type(error).__name__).inc()
                raise
        if decided is not None and decided.requeue_after is not None:
            self.requeue(namespace, name, decided.requeue_after)

    def _pass(self, namespace: str, name: str) -> Plan | None:
        """observe → plan → execute; a refused write is remembered and the plan redone held."""
        key = (namespace, name)
        observed = observe(
            self.api,
            namespace=namespace,
            name=name,
            follower=self.follower,
            notifier=self.notifier,
            config=self.config,
        )
        if observed is None:
            return None
        now = self.clock.now()
        known = refusal.current(self._refusals.get(key), observed.metadata.generation)
        observed = replace(observed, refusal=known)
        decided = plan(observed, now)
        observed, decided = with_local_queue(self.api, observed, decided, now=now)
        if self.queue is not None:
            observed, decided = take_seat(self.queue, observed, decided, now=now)
        try:
            execute(self.api, observed, decided, now=rfc3339(now))
        except WriteRefused as refused:
            metrics.RECONCILE_ERRORS.labels(namespace, type(refused).__name__).inc()
            again = refusal.after_refusal(
                known,
                write=refused.write,
                message=refused.message,
                generation=observed.metadata.generation,
                now=now,
            )
            logger.warning(
                "API server refused to %s for %s/%s (attempt %d): %s",
                refused.write, namespace, name, again.attempts, refused.message,
            )  # fmt: skip
            self._refusals[key] = again
            observed = replace(observed, refusal=again)
            decided = plan(observed, now)
            execute(self.api, observed, decided, now=rfc3339(now))
            self._notify(observed, decided)
            return decided
        if not refusal.holding(observed, now):
            self._refusals.pop(key, None)  # the writes went through (or none was refused)
        self._notify(observed, decided)
        return decided

    def _notify(self, observed: Observed, decided: Plan) -> None:
        """After the status that records them is written: hand the deliveries over."""
        if self.notifier is not None:
            meta = observed.metadata
            rows = decided.status.notifications
            self.notifier.send(
                meta.namespace,
                meta.name,
                decided.notifications,
                observed.webhooks,
                pending=frozenset((r.webhook, r.id) for r in rows if r.state == "Pending"),
            )

    def requeue(self, namespace: str, name: str, delay: float) -> None:
        """Look again after ``delay`` seconds; one pending timer per pipeline, in memory only.

        Like client-go's delaying queue, a pending wake-up is replaced only by an earlier
        one: a long requeue (the next cron slot) never hides a short one (a debounce).
        """
        key = (namespace, name)
        due = self.clock.now() + timedelta(seconds=delay)
        with self._guard:
            before = self._timers.get(key)
            if before is not None and before.due <= due:
                return
            token = next(self._tokens)
            timer = self._timer(delay, self._fire, (namespace, name, token))
            timer.daemon = True
            self._timers[key] = _Pending(due, token, timer)
        if before is not None:
            before.timer.cancel()
        timer.start()

    def forget(self, namespace: str, name: str) -> None:
        with self._guard:
            pending = self._timers.pop((namespace, name), None)
            self._locks.pop((namespace, name), None)
            self._refusals.pop((namespace, name), None)
        if self.queue is not None:
            self.queue.leave((namespace, name))
        if pending is not None:
            pending.timer.cancel()
        if self.follower is not None:
            self.follower.forget(namespace=namespace, name=name)
        if self.notifier is not None:
            self.notifier.forget(namespace, name)
        metrics.forget(namespace, name)

    def stop(self) -> None:
        with self._guard:
            timers, self._timers = list(self._timers.values()), {}
        for pending in timers:
            pending.timer.cancel()
        if self.follower is not None:
            self.follower.stop()
        if self.notifier is not None:
            self.notifier.stop()

    def _fire(self, namespace: str, name: str, token: int) -> None:
        """A timer is due; a replaced one that fires anyway (its cancel raced) does nothing."""
        with self._guard:
            pending = self._timers.get((namespace, name))
            if pending is None or pending.token != token:
                return
            del self._timers[(namespace, name)]
        self._reconcile_logged(namespace, name)

    def _reconcile_logged(self, namespace: str, name: str) -> None:
        """A reconcile outside kopf (timers, source changes): log failures, raise nothing."""
        try:
            self.reconcile(namespace, name)
        except UnreadableBody as error:  # its message says which object and field
            logger.warning("Requeued reconcile of %s/%s failed: %s", namespace, name, error)
        except Exception:
            logger.exception("Requeued reconcile of %s/%s failed", namespace, name)

    def _lock(self, namespace: str, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((namespace, name), threading.Lock())
