"""Operator figures on the local cluster, each next to a floor measured in the same run.

    uv run python benchmarks/operator/bench_operator.py           # 100 changes per size
    uv run python benchmarks/operator/bench_operator.py --quick   # 20 changes, short idle window
    uv run python -m benchmarks --only operator [-- --quick]

1. Floor: the raw latency of creating a Job through the API, from just before the
   POST to a watch on the namespace's Jobs seeing it (suspended Jobs: no pod runs).
2. With 10 and then 300 pipelines loaded: from just before a spec change (a PATCH of
   ``spec.code.revision``) to the same watch seeing the operator's Job for it, p50
   and p99, one change at a time (the operator otherwise idle); and in full mode also
   every pipeline changed at once (a burst), against a floor burst of as many POSTs.
3. API writes per pipeline per minute while idle: the apiserver's own
   ``apiserver_request_total`` (POST/PUT/PATCH/DELETE) before and after an idle
   window, by resource; control-plane leases are shown apart. Target: 0.
4. Operator RSS (VmRSS) with 300 pipelines, against its RSS with none.

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
from dataclasses import dataclass
from pathlib import Path

# Run as a script by `python -m benchmarks`: the repository root holds tests/ and benchmarks/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.operator.fleet import (
    BACKGROUND,
    JobWatch,
    Json,
    floor_job,
    pipeline,
    pvc,
    quantiles,
    rss_mib,
    write_counts,
)
from tests.e2e.harness import CRD, Operator, wait_for

from localkube.agent.api import MERGE, KubeApi
from localkube.agent.config import read_kubeconfig
from localkube.cluster import Cluster

GROUP_PATH = "/apis/modelpipe.io/v1alpha1/namespaces/{ns}/modelpipelines"
SETTLED = "CodeValidationFailed"
CONCURRENCY = 20


@dataclass(frozen=True)
class Mode:
    sizes: tuple[int, ...]
    samples: int
    idle_seconds: float
    burst: bool


QUICK = Mode(sizes=(10, 300), samples=20, idle_seconds=30, burst=False)
FULL = Mode(sizes=(10, 300), samples=100, idle_seconds=120, burst=True)


class Bench:
    def __init__(self, cluster: Cluster, api: KubeApi, namespace: str, watch: JobWatch) -> None:
        self.cluster, self.api, self.ns, self.watch = cluster, api, namespace, watch
        self.revisions: dict[str, int] = {}
        self.floor: dict[str, tuple[float, float]] = {}

    @property
    def pipelines_path(self) -> str:
        return GROUP_PATH.format(ns=self.ns)

    async def gather(self, calls: Iterable[Callable[[], Awaitable[float]]]) -> list[float]:
        """Run the calls at most CONCURRENCY at a time; their results in order."""
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(call: Callable[[], Awaitable[float]]) -> float:
            async with gate:
                return await call()

        return list(await asyncio.gather(*(one(c) for c in calls)))

    async def _ping(self) -> float:
        await self.api.request("GET", f"/api/v1/namespaces/{self.ns}")
        return 0.0

    async def create_job(self, name: str) -> float:
        started = time.monotonic()
        await self.api.request(
            "POST", f"/apis/batch/v1/namespaces/{self.ns}/jobs", body=floor_job(name)
        )
        return await self.watch.wait(self.watch.by_name, name, limit=30) - started

    async def measure_floor(self, samples: int, bursts: tuple[int, ...]) -> None:
        # Open the client's connections first: a TLS handshake is not the API's latency.
        await self.gather([self._ping] * CONCURRENCY)
        sequential = [await self.create_job(f"floor-{n}") for n in range(samples)]
        self.floor["one at a time"] = quantiles(sequential)
        for size in bursts:
            calls = [lambda n=n, s=size: self.create_job(f"floor-{s}-{n}") for n in range(size)]
            self.floor[f"burst of {size}"] = quantiles(await self.gather(calls))
        await self.api.request(
            "DELETE",
            f"/apis/batch/v1/namespaces/{self.ns}/jobs",
            params={"labelSelector": "bench=floor"},
            body={"propagationPolicy": "Background"},
        )

    async def add_pipelines(self, total: int) -> None:
        names = [f"p{n:03d}" for n in range(len(self.revisions), total)]

        async def create(name: str) -> float:
            await self.api.request("POST", self.pipelines_path, body=pipeline(name, "r0"))
            self.revisions[name] = 0
            return 0.0

        await self.gather([lambda name=name: create(name) for name in names])

    async def change(self, name: str) -> float:
        """Bump one pipeline's code revision; seconds until its Job is seen."""
        self.revisions[name] += 1
        revision = f"r{self.revisions[name]}"
        started = time.monotonic()
        await self.api.request(
            "PATCH",
            f"{self.pipelines_path}/{name}",
            body={"spec": {"code": {"revision": revision}}},
            content_type=MERGE,
        )
        return await self.watch.wait(self.watch.by_input, (name, revision), limit=60) - started

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

    async def settle(self, *, limit: float) -> None:
        deadline = time.monotonic() + limit
        while waiting := await self.unsettled():
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {len(waiting)} pipelines unsettled, e.g. {waiting[:3]}")
            await asyncio.sleep(1)


def _settled(body: Json) -> bool:
    last = (body.get("status") or {}).get("lastRun") or {}
    revision = body["spec"]["code"]["revision"]
    return bool(last.get("verdict") == SETTLED and last.get("codeRevision") == revision)


def ratio_line(what: str, values: list[float], floor: tuple[float, float]) -> str:
    (p50, p99), (f50, f99) = quantiles(values), floor
    return (
        f"  {what:<34} p50 {p50 * 1000:7.1f} ms ({p50 / f50:5.1f}x floor)   "
        f"p99 {p99 * 1000:7.1f} ms ({p99 / f99:5.1f}x floor)   max {max(values) * 1000:.0f} ms"
    )


async def sequential(bench: Bench, size: int, samples: int) -> list[float]:
    names = sorted(bench.revisions)[:size]
    found = []
    for n in range(samples):
        name = names[(n * 7) % len(names)]
        found.append(await bench.change(name))
        await bench.settle_one(name, limit=60)  # each change meets an idle operator
    return found


async def idle_writes(bench: Bench, operator: Operator, seconds: float) -> Counter[str]:
    await asyncio.sleep(5)  # the last events and status writes of the settle phase
    reconciles_before = _reconciles(operator)
    before = await asyncio.to_thread(write_counts, bench.cluster)
    await asyncio.sleep(seconds)
    after = await asyncio.to_thread(write_counts, bench.cluster)
    delta = Counter({k: after[k] - before[k] for k in after if after[k] > before[k]})
    delta["(operator reconcile passes)"] = int(_reconciles(operator) - reconciles_before)
    return delta


def _reconciles(operator: Operator) -> float:
    lines = operator.metrics().splitlines()
    return sum(float(x.split()[-1]) for x in lines if x.startswith("modelpipe_reconciles_total{"))


def report_idle(delta: Counter[str], *, size: int, seconds: float) -> None:
    reconciles = delta.pop("(operator reconcile passes)")
    ours = {k: v for k, v in delta.items() if k not in BACKGROUND}
    background = {k: v for k, v in delta.items() if k in BACKGROUND}
    per = sum(ours.values()) / size / (seconds / 60)
    print(
        f"  idle writes over {seconds:g}s: {per:.3f} per pipeline per minute (target 0); "
        f"by resource {dict(ours) or '{}'}; operator reconciles {reconciles}; "
        f"control-plane leases {sum(background.values())} (not the operator's)"
    )


async def one_size(bench: Bench, operator: Operator, size: int, mode: Mode, rss0: float) -> None:
    print(f"\n{size} pipelines:", flush=True)
    started = time.monotonic()
    await bench.add_pipelines(size)
    await bench.settle(limit=120 + size * 2)
    print(f"  created and settled (first run each) in {time.monotonic() - started:.0f}s")
    one = await sequential(bench, size, mode.samples)
    print(
        ratio_line(
            f"change -> Job, one at a time (n={mode.samples})", one, bench.floor["one at a time"]
        ),
        flush=True,
    )
    if mode.burst:
        names = sorted(bench.revisions)[:size]
        burst = await bench.gather([lambda name=name: bench.change(name) for name in names])
        print(
            ratio_line(
                f"change -> Job, all {size} at once",
                quantiles(burst),
                bench.floor[f"burst of {size}"],
            ),
            flush=True,
        )
        await bench.settle(limit=120 + size * 2)
    report_idle(
        await idle_writes(bench, operator, mode.idle_seconds), size=size, seconds=mode.idle_seconds
    )
    rss = rss_mib(_pid(operator))
    print(
        f"  operator RSS {rss:.0f} MiB ({rss / rss0:.2f}x its {rss0:.0f} MiB with none)", flush=True
    )


def _pid(operator: Operator) -> int:
    assert operator.process is not None and operator.process.poll() is None, "operator died"
    return operator.process.pid


async def measure(cluster: Cluster, namespace: str, mode: Mode, tmp: Path) -> None:
    api = KubeApi(read_kubeconfig(cluster.kubeconfig, secrets_dir=tmp))
    watch = JobWatch()
    watcher = asyncio.create_task(watch.run(api, namespace))
    bench = Bench(cluster, api, namespace, watch)
    operator = Operator(cluster, namespace, tmp)
    try:
        await asyncio.sleep(1)  # the watch is established
        await bench.measure_floor(mode.samples, mode.sizes if mode.burst else ())
        for what, (f50, f99) in bench.floor.items():
            print(f"floor, POST Job -> seen by a watch, {what}: ", end="")
            print(f"p50 {f50 * 1000:.1f} ms  p99 {f99 * 1000:.1f} ms")
        await api.request(
            "POST", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", body=pvc()
        )
        operator.start()
        await asyncio.to_thread(wait_for, "the operator's liveness", _alive(operator), timeout=60)
        await asyncio.sleep(3)
        rss0 = rss_mib(_pid(operator))
        for size in mode.sizes:
            await one_size(bench, operator, size, mode, rss0)
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
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    already = Cluster.at(args.cluster).running()
    cluster = Cluster.up(args.cluster, log=lambda _m: None)
    namespace = f"bench-op-{uuid.uuid4().hex[:5]}"
    started = time.monotonic()
    try:
        cluster.kubectl("apply", "-f", str(CRD))
        cluster.kubectl("wait", "--for=condition=Established", "crd/modelpipelines.modelpipe.io")
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
