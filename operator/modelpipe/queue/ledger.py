"""The operator's record of the training queue, in memory: running Jobs and waiting pipelines.

Each reconcile pass reports its pipeline's active training Jobs (``observe``) and, when its
plan would start a Job, asks for a slot (``ask``). The answer comes from the pure
:func:`modelpipe.queue.order.decide` over the whole record. A slot taken is counted at once
(the pass creates the Job right after), so two passes never both take the last slot.
When a slot frees (a Job ends, a pipeline is deleted), the requests that now fit are
woken. A restart loses the record: the first ask re-reads the running training Jobs in
one list (``seed``), and waiting pipelines join again as their resume passes run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from modelpipe.layout import job_name
from modelpipe.queue.order import Key, Limits, Request, decide

Seed = Callable[[], Mapping[Key, frozenset[str]]]


@dataclass(frozen=True)
class Seat:
    """``position`` is ``None`` when the request may start now."""

    position: int | None
    waiting: int


class TrainingQueue:
    def __init__(
        self, limits: Limits, *, wake: Callable[[str, str], None], seed: Seed | None = None
    ) -> None:
        self.limits = limits
        self._wake, self._seed = wake, seed
        self._running: dict[Key, frozenset[str]] = {}
        self._waiting: dict[Key, Request] = {}
        self._guard = threading.Lock()
        self._seeded = seed is None

    def observe(self, key: Key, active: frozenset[str]) -> None:
        """The pipeline's active training Jobs as a pass read them."""
        with self._guard:
            before = len(self._running.get(key, frozenset()))
            if active:
                self._running[key] = active
            else:
                self._running.pop(key, None)
        if len(active) < before:
            self._wake_fitting()

    def ask(self, request: Request) -> Seat:
        """Take a slot for ``request`` or join (or keep a place in) the queue.

        A pipeline already waiting keeps its place when its inputs change: the new run
        replaces the stale one, which will never start.
        """
        with self._guard:
            self._seed_once()
            earlier = self._waiting.get(request.key)
            if earlier is not None:
                request = replace(request, since=min(earlier.since, request.since))
            self._waiting[request.key] = request
            decision = decide(self._waiting.values(), self._per_namespace(), self.limits)
            if request.key in decision.admitted:
                del self._waiting[request.key]
                taken = job_name(pipeline=request.pipeline, version=request.version)
                self._running[request.key] = self._running.get(request.key, frozenset()) | {taken}
                return Seat(position=None, waiting=len(self._waiting))
            return Seat(position=decision.positions[request.key], waiting=len(self._waiting))

    def withdraw(self, key: Key) -> None:
        """The pipeline no longer wants a run (its inputs were decided, it was suspended)."""
        with self._guard:
            self._waiting.pop(key, None)

    def leave(self, key: Key) -> None:
        """The pipeline is gone: out of the queue, and its Jobs go with it."""
        with self._guard:
            self._waiting.pop(key, None)
            freed = self._running.pop(key, None)
        if freed:
            self._wake_fitting()

    def waiting(self) -> int:
        with self._guard:
            return len(self._waiting)

    def _per_namespace(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (namespace, _), jobs in self._running.items():
            counts[namespace] = counts.get(namespace, 0) + len(jobs)
        return counts

    def _seed_once(self) -> None:
        if self._seeded or self._seed is None:
            return
        for key, jobs in self._seed().items():
            self._running[key] = self._running.get(key, frozenset()) | jobs
        self._seeded = True

    def _wake_fitting(self) -> None:
        """Reconcile the waiting pipelines that would now get a slot (they ask again)."""
        with self._guard:
            decision = decide(self._waiting.values(), self._per_namespace(), self.limits)
        for namespace, name in sorted(decision.admitted):
            self._wake(namespace, name)
