"""The operator bench's driver: pipelines made, changed and watched in one namespace.

Shared by ``bench_operator.py`` (modelpipe's operator) and ``ideal.py`` (the least a kopf
operator can do per change), so both bursts are sent and timed the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from benchmarks.kubeapi import MERGE, KubeApi
from benchmarks.operator import where
from benchmarks.operator.fleet import JobWatch, Json, floor_job, pipeline, quantiles

from localkube.cluster import Cluster
from modelpipe.api.v1alpha1 import FINAL_VERDICTS

GROUP_PATH = "/apis/modelpipe.io/v1alpha1/namespaces/{ns}/modelpipelines"
FINAL = frozenset(v.value for v in FINAL_VERDICTS)  # CodeValidationFailed, every run here
CONCURRENCY = 20
T = TypeVar("T")


class Bench:
    def __init__(self, cluster: Cluster, api: KubeApi, namespace: str, watch: JobWatch) -> None:
        self.cluster, self.api, self.ns, self.watch = cluster, api, namespace, watch
        self.revisions: dict[str, int] = {}
        self.floor: dict[str, tuple[float, float]] = {}
        self.floor_profiles: dict[int, str] = {}

    @property
    def pipelines_path(self) -> str:
        return GROUP_PATH.format(ns=self.ns)

    async def get_pipeline(self, n: int) -> Json:
        """GET one of the loaded pipelines, round robin: a raw read for the restart floor."""
        names = sorted(self.revisions)
        return await self.api.request("GET", f"{self.pipelines_path}/{names[n % len(names)]}")

    async def gather(self, calls: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
        """Run the calls at most CONCURRENCY at a time; their results in order."""
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(call: Callable[[], Awaitable[T]]) -> T:
            async with gate:
                return await call()

        return list(await asyncio.gather(*(one(c) for c in calls)))

    async def burst(self, send: Callable[[str], Awaitable[Any]], keys: list[str]) -> list[float]:
        """Send every request (CONCURRENCY in flight), then collect each Job's latency."""
        sent = await self.gather([partial(self._timed, send, key) for key in keys])
        return [await self.watch.wait(*seen, limit=120) - started for seen, started in sent]

    @staticmethod
    async def _timed(send: Callable[[str], Awaitable[Any]], key: str) -> tuple[Any, float]:
        started = time.monotonic()
        return await send(key), started

    async def ping(self) -> float:
        await self.api.request("GET", f"/api/v1/namespaces/{self.ns}")
        return 0.0

    async def post_job(self, name: str) -> tuple[dict[str, float], str]:
        """POST a floor Job; where and under which key the watch will note it."""
        await self.api.request(
            "POST", f"/apis/batch/v1/namespaces/{self.ns}/jobs", body=floor_job(name)
        )
        return self.watch.by_name, name

    async def create_job(self, name: str) -> float:
        started = time.monotonic()
        return await self.watch.wait(*await self.post_job(name), limit=30) - started

    async def measure_floor(self, samples: int, bursts: tuple[int, ...]) -> None:
        # Open the client's connections first: a TLS handshake is not the API's latency.
        await self.gather([self.ping] * CONCURRENCY)
        sequential = [await self.create_job(f"floor-{n}") for n in range(samples)]
        self.floor["one at a time"] = quantiles(sequential)
        for size in bursts:
            names = [f"floor-{size}-{n}" for n in range(size)]
            before, began = await asyncio.to_thread(where.mark, self.cluster), time.monotonic()
            self.floor[f"burst of {size}"] = quantiles(await self.burst(self.post_job, names))
            seconds, after = (
                time.monotonic() - began,
                await asyncio.to_thread(where.mark, self.cluster),
            )
            self.floor_profiles[size] = where.report(before, after, changes=size, seconds=seconds)
        await self.api.request(
            "DELETE",
            f"/apis/batch/v1/namespaces/{self.ns}/jobs",
            params={"labelSelector": "bench=floor"},
            body={"propagationPolicy": "Background"},
        )

    async def add_pipelines(self, total: int) -> None:
        names = [f"p{n:04d}" for n in range(len(self.revisions), total)]

        async def create(name: str) -> float:
            await self.api.request("POST", self.pipelines_path, body=pipeline(name, "r0"))
            self.revisions[name] = 0
            return 0.0

        await self.gather([partial(create, name) for name in names])

    async def bump(self, name: str) -> tuple[dict[tuple[str, str], float], tuple[str, str]]:
        """PATCH one pipeline's code revision; where and under which key its Job will show."""
        self.revisions[name] += 1
        revision = f"r{self.revisions[name]}"
        await self.api.request(
            "PATCH",
            f"{self.pipelines_path}/{name}",
            body={"spec": {"code": {"revision": revision}}},
            content_type=MERGE,
        )
        return self.watch.by_input, (name, revision)

    async def change(self, name: str) -> float:
        """Bump one pipeline's code revision; seconds until its Job is seen."""
        started = time.monotonic()
        return await self.watch.wait(*await self.bump(name), limit=60) - started

    async def unsettled(self) -> list[str]:
        """Pipelines whose last run is not yet the settled verdict for their current revision."""
        items = (await self.api.request("GET", self.pipelines_path))["items"]
        return [p["metadata"]["name"] for p in items if not _settled(p)]

    async def settle_one(self, name: str, *, limit: float) -> None:
        deadline = time.monotonic() + limit
        while not _settled(await self.api.request("GET", f"{self.pipelines_path}/{name}")):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: pipeline {name} unsettled after {limit:g}s")
            await asyncio.sleep(0.2)

    async def quiet(self, *, limit: float) -> None:
        """Until no pod of the namespace is starting, running or being deleted."""
        deadline = time.monotonic() + limit
        path = f"/api/v1/namespaces/{self.ns}/pods"
        while busy := [
            pod["metadata"]["name"]
            for pod in (await self.api.request("GET", path))["items"]
            if pod["metadata"].get("deletionTimestamp")
            or pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {len(busy)} pods still busy, e.g. {busy[:3]}")
            await asyncio.sleep(1)

    async def events_since(self, since: datetime) -> Counter[str]:
        """Events of every namespace written since ``since``, by namespace and reporter."""
        items = (await self.api.request("GET", "/api/v1/events"))["items"]
        return Counter(
            f"{event['metadata']['namespace']}/"
            + (event.get("reportingComponent") or event.get("source", {}).get("component") or "?")
            for event in items
            if _event_time(event) >= since
        )

    async def settle(self, *, limit: float) -> None:
        deadline = time.monotonic() + limit
        while waiting := await self.unsettled():
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {len(waiting)} pipelines unsettled, e.g. {waiting[:3]}")
            await asyncio.sleep(1)


def _event_time(event: Json) -> datetime:
    """When the apiserver stored the Event: reporters stamp the occurrence, and a backlog
    of them (kube-controller-manager's after a burst) is posted minutes later."""
    stamp = str(event["metadata"]["creationTimestamp"])
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _settled(body: Json) -> bool:
    """The current revision's run ended: in its code test, as every run should, or in any
    other final verdict (a pod that never started, say), so that one cannot stall the run."""
    last = (body.get("status") or {}).get("lastRun") or {}
    revision = body["spec"]["code"]["revision"]
    return bool(last.get("verdict") in FINAL and last.get("codeRevision") == revision)
