"""Operator figures on the local cluster, each next to a floor measured in the same run.

    uv run python benchmarks/operator/bench_operator.py           # 100 changes per size
    uv run python benchmarks/operator/bench_operator.py --quick   # 20 changes, short idle window
    uv run python benchmarks/operator/bench_operator.py --bursts  # 300 at once, three ways
    uv run python -m benchmarks --only operator [-- --quick]

1. Floor: the raw latency of creating a Job through the API, from just before the
   POST to a watch on the namespace's Jobs seeing it (suspended Jobs: no pod runs).
2. With 10, 300 and (full mode) 1,000 pipelines loaded: from just before a spec change (a
   PATCH of ``spec.code.revision``) to the same watch seeing the operator's Job for it, p50
   and p99, one change at a time (the operator otherwise idle; up to 300 pipelines); and in
   full mode also every pipeline changed at once (a burst: every PATCH sent, 20 in flight,
   then the Jobs awaited), against a floor burst of as many POSTs sent the same way, and
   against the least a kopf operator can do per change (ideal.py: the same burst, under
   an operator that only POSTs the Job), so the ratio to the raw floor splits into what
   any kopf operator pays and what is modelpipe's own work.
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
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

# Run as a script by `python -m benchmarks`: the repository root holds tests/ and benchmarks/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.kubeapi import KubeApi
from benchmarks.operator import where
from benchmarks.operator.driver import CONCURRENCY, Bench
from benchmarks.operator.fleet import (
    Idle,
    JobWatch,
    cluster_with_crd,
    pvc,
    quantiles,
    ratio_line,
    reconciles,
    report_idle,
    request_counts,
    rss_mib,
)
from benchmarks.operator.ideal import ideal_burst
from benchmarks.operator.restart import report_restart, restart, time_start
from tests.e2e.harness import Operator

from localkube.cluster import Cluster


@dataclass(frozen=True)
class Mode:
    sizes: tuple[int, ...]
    samples: int  # one-at-a-time changes, at sizes up to MAX_SEQUENTIAL
    idle_seconds: float
    burst: bool
    only_burst: bool = False  # the floor, the bursts and the ideal operator's: ~7 min at 300


MAX_SEQUENTIAL = 300  # at 1,000 the burst is the figure; 100 more pods would cost minutes
QUICK = Mode(sizes=(10, 300), samples=20, idle_seconds=30, burst=False)
FULL = Mode(sizes=(10, 300, 1000), samples=100, idle_seconds=120, burst=True)
BURSTS = Mode(sizes=(300,), samples=20, idle_seconds=0, burst=True, only_burst=True)


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
    if size <= MAX_SEQUENTIAL and not mode.only_burst:
        await one_at_a_time(bench, size, mode)
    if mode.burst:
        await burst(bench, size, operator.log_dir)
    if mode.only_burst:
        return
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


async def burst(bench: Bench, size: int, log_dir: Path) -> None:
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
    ideal = await ideal_burst(bench.cluster, bench.api, size=size, log_dir=log_dir)
    what = f"the least a kopf operator does (ideal.py), all {size} at once"
    print(ratio_line(what, ideal.latencies, bench.floor[f"burst of {size}"]), flush=True)
    print(f"    every Job of its burst created {ideal.seconds:.2f}s after its start")
    print(ideal.profile)
    ours, bound = quantiles(found)[1], quantiles(ideal.latencies)[1]
    print(f"  modelpipe's burst p99 against the ideal kopf operator's: {ours / bound:.1f}x")


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
    parser.add_argument(
        "--bursts", action="store_true", help="only the bursts (ours, the ideal's, the floor's)"
    )
    parser.add_argument("--cluster", default="bench-op", help="local cluster to use")
    parser.add_argument("--sizes", type=int, nargs="+", help="pipeline counts (default: mode's)")
    args = parser.parse_args()
    mode = BURSTS if args.bursts else QUICK if args.quick else FULL
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
