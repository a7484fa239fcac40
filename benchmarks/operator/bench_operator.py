"""Operator figures on the local cluster, each next to a floor measured in the same run.

    uv run python benchmarks/operator/bench_operator.py           # 100 changes per size
    uv run python benchmarks/operator/bench_operator.py --quick   # 20 changes, short idle window
    uv run python -m benchmarks --only operator [-- --quick]

1. Floor: the raw latency of creating a Job through the API, from just before the
   POST to a watch on the namespace's Jobs seeing it (suspended Jobs: no pod runs).
2. With 10, 300 and (full mode) 1,000 pipelines loaded: from just before a spec change (a
   PATCH of ``spec.code.revision``) to the same watch seeing the operator's Job for it, p50
   and p99, one change at a time (the operator otherwise idle; up to 300 pipelines); and in
   full mode also every pipeline changed at once (a burst: every PATCH sent, 20 in flight,
   then the Jobs awaited), against a floor burst of as many POSTs sent the same way.
3. API writes per pipeline per minute while idle, once the namespace's pods are quiet:
   the apiserver's own ``apiserver_request_total`` (POST/PUT/PATCH/DELETE) before and
   after an idle window, by resource. The operator's share is what only it writes
   (ModelPipelines and their status, Jobs, Deployments, Services) plus the Events it
   reports; everything else (node heartbeats, leases, ...) is printed apart. Target: 0.
4. Operator RSS (VmRSS) at each size, against its RSS with none.
5. The settle time after a restart at each size (re-list and reconcile every pipeline,
   creating nothing), against the empty operator's start plus as many raw reads
   (restart.py).

The pipelines' runs are one short pod each (a code test that exits 1), so the figures
measure the operator, not training. A throwaway cluster ``bench-op`` is started and
removed at the end (``--cluster`` names another; a cluster already running is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

# Run as a script by `python -m benchmarks`: the repository root holds tests/ and benchmarks/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.kubeapi import MERGE, KubeApi
from benchmarks.operator import where
from benchmarks.operator.fleet import (
    Idle,
    JobWatch,
    Json,
    cluster_with_crd,
    floor_job,
    pipeline,
    pvc,
    quantiles,
    ratio_line,
    reconciles,
    report_idle,
    request_counts,
    rss_mib,
)
from benchmarks.operator.restart import report_restart, restart, time_start
from tests.e2e.harness import Operator

from localkube.cluster import Cluster
from modelpipe.api.v1alpha1 import FINAL_VERDICTS

GROUP_PATH = "/apis/modelpipe.io/v1alpha1/namespaces/{ns}/modelpipelines"
FINAL = frozenset(v.value for v in FINAL_VERDICTS)  # CodeValidationFailed, every run here
CONCURRENCY = 20
T = TypeVar("T")


@dataclass(frozen=True)
class Mode:
    sizes: tuple[int, ...]
    samples: int  # one-at-a-time changes, at sizes up to MAX_SEQUENTIAL
    idle_seconds: float
    burst: bool


MAX_SEQUENTIAL = 300  # at 1,000 the burst is the figure; 100 more pods would cost minutes
QUICK = Mode(sizes=(10, 300), samples=20, idle_seconds=30, burst=False)
FULL = Mode(sizes=(10, 300, 1000), samples=100, idle_seconds=120, burst=True)


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


async def sequential(bench: Bench, size: int, samples: int) -> list[float]:
    names = sorted(bench.revisions)[:size]
    found = []
    for n in range(samples):
        name = names[(n * 7) % len(names)]
        found.append(await bench.change(name))
        await bench.settle_one(name, limit=60)  # each change meets an idle operator
    return found


async def idle_writes(bench: Bench, operator: Operator, seconds: float) -> Idle:
    await bench.quiet(limit=180)
    await asyncio.sleep(5)  # the last events and status writes of the settle phase
    reconciles_before = reconciles(operator)
    started = datetime.now(UTC).replace(microsecond=0)
    before = await asyncio.to_thread(request_counts, bench.cluster)
    await asyncio.sleep(seconds)
    after = await asyncio.to_thread(request_counts, bench.cluster)
    return Idle(
        seconds=seconds,
        writes=Counter({k: after[k] - before[k] for k in after if after[k] > before[k]}),
        events=await bench.events_since(started),
        reconciles=int(reconciles(operator) - reconciles_before),
    )


async def one_size(bench: Bench, operator: Operator, size: int, mode: Mode, floor: Floor) -> None:
    print(f"\n{size} pipelines:", flush=True)
    started = time.monotonic()
    await bench.add_pipelines(size)
    await bench.settle(limit=120 + size * 2)
    print(f"  created and settled (first run each) in {time.monotonic() - started:.0f}s")
    if size <= MAX_SEQUENTIAL:
        await one_at_a_time(bench, size, mode)
    if mode.burst:
        await burst(bench, size)
    report_idle(await idle_writes(bench, operator, mode.idle_seconds), size=size)
    rss = rss_mib(_pid(operator))
    print(
        f"  operator RSS {rss:.0f} MiB ({rss / floor.rss:.2f}x its {floor.rss:.0f} MiB with none)",
        flush=True,
    )
    found = await restart(
        bench.cluster,
        operator,
        size=size,
        jobs_seen=lambda: len(bench.watch.by_name),
        floor_start=floor.start,
        raw_get=bench.get_pipeline,
    )
    print(report_restart(found, size=size), flush=True)


@dataclass(frozen=True)
class Floor:
    """The empty operator: its RSS, and seconds from its start to liveness."""

    rss: float
    start: float


async def one_at_a_time(bench: Bench, size: int, mode: Mode) -> None:
    one = await sequential(bench, size, mode.samples)
    worst = max(range(len(one)), key=one.__getitem__)
    print(f"  (slowest single change: sample {worst}, {one[worst]:.2f}s; operator log has times)")
    print(
        ratio_line(
            f"change -> Job, one at a time (n={mode.samples})", one, bench.floor["one at a time"]
        ),
        flush=True,
    )


async def burst(bench: Bench, size: int) -> None:
    """Every pipeline changed at once, the node cordoned: the floor's Jobs are suspended, so
    the operator's Jobs' pods wait Pending instead of starting ``size`` containers on the
    same cores as the control plane. Then where the time went, next to the floor's."""
    names = sorted(bench.revisions)[:size]
    await bench.gather([bench.ping] * CONCURRENCY)  # the client's connections are open
    node = bench.cluster.kubectl("get", "nodes", "-o", "name").stdout.split()[0]
    bench.cluster.kubectl("cordon", node)
    try:
        before, began = await asyncio.to_thread(where.mark, bench.cluster), time.monotonic()
        found = await bench.burst(bench.bump, names)
        seconds, after = (
            time.monotonic() - began,
            await asyncio.to_thread(where.mark, bench.cluster),
        )
    finally:
        bench.cluster.kubectl("uncordon", node)
    what = f"change -> Job, all {size} at once"
    print(ratio_line(what, found, bench.floor[f"burst of {size}"]), flush=True)
    print(f"    every Job of the burst created {seconds:.2f}s after its start (node cordoned)")
    print(where.report(before, after, changes=size, seconds=seconds))
    print(f"  the floor's burst of {size} Jobs:\n{bench.floor_profiles[size]}", flush=True)
    await bench.settle(limit=120 + size * 2)


def _pid(operator: Operator) -> int:
    assert operator.process is not None and operator.process.poll() is None, "operator died"
    return operator.process.pid


async def measure(cluster: Cluster, namespace: str, mode: Mode, tmp: Path) -> None:
    api = KubeApi(cluster)
    watch = JobWatch()
    watcher = asyncio.create_task(watch.run(api, namespace))
    bench = Bench(cluster, api, namespace, watch)
    operator = Operator(
        cluster, namespace, tmp, extra_args=("--standalone", "--log-format", "full")
    )
    try:
        await asyncio.sleep(1)  # the watch is established
        await bench.measure_floor(mode.samples, mode.sizes if mode.burst else ())
        for what, (f50, f99) in bench.floor.items():
            print(f"floor, POST Job -> seen by a watch, {what}: ", end="")
            print(f"p50 {f50 * 1000:.1f} ms  p99 {f99 * 1000:.1f} ms")
        await api.request(
            "POST", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", body=pvc()
        )
        start = await time_start(operator, _alive(operator), limit=60)
        print(f"empty operator: process start -> liveness {start:.2f}s")
        await asyncio.sleep(3)
        floor = Floor(rss=rss_mib(_pid(operator)), start=start)
        for size in mode.sizes:
            await one_size(bench, operator, size, mode, floor)
    finally:
        operator.stop()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await api.close()


def _alive(operator: Operator) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return operator.liveness()[0] == 200
        except OSError:
            return False

    return probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 changes per size, 30 s idle")
    parser.add_argument("--cluster", default="bench-op", help="local cluster to use")
    parser.add_argument("--sizes", type=int, nargs="+", help="pipeline counts (default: mode's)")
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    if args.sizes:
        mode = replace(mode, sizes=tuple(args.sizes))
    cluster, already = cluster_with_crd(args.cluster)
    namespace = f"bench-op-{uuid.uuid4().hex[:5]}"
    started = time.monotonic()
    try:
        cluster.kubectl("create", "namespace", namespace)
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(measure(cluster, namespace, mode, Path(tmp)))
    finally:
        if already:
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        else:
            cluster.down(quiet=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\noperator bench done in {time.monotonic() - started:.0f}s (load average {load})")


if __name__ == "__main__":
    main()
