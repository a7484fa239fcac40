"""The seam between a ModelPipeline and the shared pollers.

- :func:`follows` (pure): which sources a spec follows (a :class:`Follow` by role),
  with the Secret each one's credentials come from;
- :func:`resolved` (pure): turn the pollers' snapshots into the values the input
  resolver uses (``modelpipe.inputs.Resolved``) and the ``status.sources`` rows;
- :class:`SourceFollower`: runs a :class:`SourceRegistry` on its own event loop
  in a daemon thread, so the operator's synchronous reconciler (kopf runs sync
  handlers in worker threads) can call it from any thread. When a source changes
  value or health it calls ``on_change(namespace, name)`` for every pipeline
  following it — the operator reconciles them then, instead of polling the API.

A pinned value needs no poller: a spec with ``code.revision`` set follows no git
ref even if ``git.ref`` is present, so pinning really stops the requests. Nor does
a ``pvc://`` dataset: the operator cannot read a claim, a Job hashes it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from modelpipe.api.durations import parse_duration
from modelpipe.api.sources import SecretRef, SourceKey, SourceKind
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.api.v1alpha1.status import SourceStatus
from modelpipe.inputs import Resolved
from modelpipe.planning.clock import Clock
from modelpipe.planning.polling import PollState
from modelpipe.planning.sourcestatus import source_status
from modelpipe.sources.credentials import Lent
from modelpipe.sources.kinds import CHECKERS, dataset_kind
from modelpipe.sources.limits import SourceLimits
from modelpipe.sources.ratelimit import RateLimiter
from modelpipe.sources.registry import Follow, Snapshot, SourceRegistry

DEFAULT_INTERVAL_SECONDS = 60.0
CODE, DATASET = "code", "dataset"
OnChange = Callable[[str, str], None]
T = TypeVar("T")


def follows(
    spec: ModelPipelineSpec, *, namespace: str, limits: SourceLimits | None = None
) -> dict[str, Follow]:
    """The sources ``spec`` follows: only inputs the spec does not pin, none when suspended.

    Intervals and byte limits are held within the operator's ``limits``.
    """
    bounds = limits or SourceLimits()
    result: dict[str, Follow] = {}
    if spec.suspend:
        return result
    git = spec.code.git
    if spec.code.revision is None and git is not None and git.ref:
        secret = SecretRef(namespace, git.credentials_secret) if git.credentials_secret else None
        key = SourceKey(SourceKind.GIT, git.url, git.ref, secret)
        result[CODE] = Follow(key, bounds.interval(_seconds(git.poll_interval)))
    data = spec.dataset
    # A dataset on a PVC is checked by a Job the plan starts (modelpipe.planning.pvcdata):
    # its kind has no poller, so it is never followed here.
    kind = dataset_kind(data.uri)
    unpolled = kind is not None and (kind.kind not in CHECKERS or kind.pinned(data.uri))
    if data.version is None and not unpolled:
        max_bytes = bounds.bytes_limit(data.max_bytes)
        if data.manifest_uri:  # the manifest names the versions, whatever the URI's scheme
            key = SourceKey(SourceKind.MANIFEST, data.manifest_uri, max_bytes=max_bytes)
        elif kind is not None:
            name = data.credentials_secret if kind.lends_secret else None
            secret = SecretRef(namespace, name) if name else None
            key = SourceKey(kind.kind, data.uri, secret=secret, max_bytes=max_bytes)
        else:  # no registered kind reads it (the spec refuses such a URI unpinned)
            return result
        result[DATASET] = Follow(key, bounds.interval(_seconds(data.poll_interval)))
    return result


def _seconds(duration: str | None) -> float:
    return parse_duration(duration).total_seconds() if duration else DEFAULT_INTERVAL_SECONDS


def resolved(snapshots: Mapping[str, Snapshot]) -> tuple[Resolved, list[SourceStatus]]:
    """Values for the input resolver, and status rows in a stable order."""
    code = snapshots.get(CODE)
    data = snapshots.get(DATASET)
    values = Resolved(
        code_revision=code.state.value if code else None,
        dataset_version=data.state.value if data else None,
    )
    rows = [source_status(role, snap.key, snap.state) for role, snap in sorted(snapshots.items())]
    return values, rows


class SourceFollower:
    """A thread-safe front of one :class:`SourceRegistry` running on a private loop."""

    def __init__(
        self,
        *,
        on_change: OnChange,
        clock: Clock,
        rate_per_second: float = 5.0,
        burst: float = 20.0,
        limits: SourceLimits | None = None,
    ) -> None:
        self._on_change = on_change
        self._clock = clock  # the operator's one clock (the reconciler's)
        self.limits = limits or SourceLimits()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sources", daemon=True)
        self._thread.start()
        self._rate = (rate_per_second, burst)
        self._watchers: dict[str, asyncio.Task[None]] = {}  # touched on the loop only
        self.registry: SourceRegistry = self._call(self._make())

    async def _make(self) -> SourceRegistry:
        limiter = RateLimiter(clock=self._clock, rate_per_second=self._rate[0], burst=self._rate[1])
        return SourceRegistry(clock=self._clock, limiter=limiter, limits=self.limits)

    def sync(
        self,
        *,
        namespace: str,
        name: str,
        spec: ModelPipelineSpec,
        code_credentials: Lent,
        dataset_credentials: Lent | None = None,
    ) -> dict[str, Snapshot]:
        """Follow what ``spec`` wants (and nothing else); return the latest snapshots.

        ``code_credentials`` is what the pipeline's credentialsSecret lends to its git
        URL (``modelpipe.sources.credentials``), read by the gatherer on every pass,
        so a rotated or fixed credential is used on the next reconcile, and the
        poller re-checks at once when it changed. A Secret that is missing or refused
        is reported on the source instead of polling, with or without it.
        ``dataset_credentials`` is the same for the dataset's credentialsSecret.
        """
        lent_by_role = {CODE: code_credentials, DATASET: dataset_credentials or Lent()}
        lent_to: dict[str, Follow] = {}
        missing: dict[str, Snapshot] = {}
        for role, follow in follows(spec, namespace=namespace, limits=self.limits).items():
            lent = lent_by_role[role] if follow.key.secret is not None else Lent()
            if lent.error is not None:
                missing[role] = Snapshot(follow.key, PollState(error=lent.error))
                continue
            lent_to[role] = replace(follow, credentials=lent.credentials)
        snapshots = self._call(self._sync(f"{namespace}/{name}", lent_to))
        return {**snapshots, **missing}

    async def _sync(self, subscriber: str, follows: dict[str, Follow]) -> dict[str, Snapshot]:
        self.registry.follow(subscriber, follows)
        if follows and subscriber not in self._watchers:
            self._watchers[subscriber] = asyncio.ensure_future(self._watch(subscriber))
        elif not follows:
            self._stop_watching(subscriber)
        return self.registry.snapshot(subscriber)

    async def _watch(self, subscriber: str) -> None:
        namespace, name = subscriber.split("/", 1)
        while True:
            if await self.registry.wait_changed(subscriber, timeout_seconds=3600):
                await self._loop.run_in_executor(None, self._on_change, namespace, name)

    def forget(self, *, namespace: str, name: str) -> None:
        self._call(self._forget(f"{namespace}/{name}"))

    async def _forget(self, subscriber: str) -> None:
        self._stop_watching(subscriber)
        self.registry.forget(subscriber)

    def _stop_watching(self, subscriber: str) -> None:
        watcher = self._watchers.pop(subscriber, None)
        if watcher is not None:
            watcher.cancel()

    def stop(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _close(self) -> None:
        for subscriber in list(self._watchers):
            self._stop_watching(subscriber)
        await self.registry.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)
