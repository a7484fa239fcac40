"""A second floor for bursts: the least a kopf operator can do per change, in the same run.

The raw floor (POST a Job, see it in a watch) asks one request per Job. An operator also
has to be told of the change (the bench's PATCH and the watch event), let kopf dispatch it
and keep its diff base, and only then POST. ``ideal_operator.py`` does exactly that and
nothing else; its burst, sent and timed as modelpipe's operator's is (``driver.Bench``), in
a namespace of its own with as many pipelines, says how much of the gap to the raw floor
any kopf operator pays, and how much is modelpipe's own work per change.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks.kubeapi import KubeApi
from benchmarks.operator import where
from benchmarks.operator.driver import CONCURRENCY, Bench
from benchmarks.operator.fleet import JobWatch

from localkube.cluster import Cluster
from localkube.processes import terminate

HANDLERS = Path(__file__).with_name("ideal_operator.py")
ROOT = Path(__file__).resolve().parents[2]  # ideal_operator.py imports benchmarks.operator
DIFF_BASE = "kopf.zalando.org/last-handled-configuration"


@dataclass(frozen=True)
class IdealBurst:
    latencies: list[float]
    seconds: float  # until every Job of the burst was seen
    profile: str  # where.report


async def ideal_burst(cluster: Cluster, api: KubeApi, *, size: int, log_dir: Path) -> IdealBurst:
    """``size`` pipelines in a fresh namespace under the ideal operator, all changed at once."""
    namespace = f"bench-ideal-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", namespace)
    watch = JobWatch()
    watcher = asyncio.create_task(watch.run(api, namespace))
    bench = Bench(cluster, api, namespace, watch)
    process = _start(cluster, namespace, log_dir / f"ideal-{size}.log")
    try:
        await bench.add_pipelines(size)
        await _handled(bench, size, process, limit=60 + size * 0.5)
        await bench.gather([bench.ping] * CONCURRENCY)  # the client's connections are open
        before, began = await asyncio.to_thread(where.mark, cluster), time.monotonic()
        found = await bench.burst(bench.bump, sorted(bench.revisions))
        seconds = time.monotonic() - began
        after = await asyncio.to_thread(where.mark, cluster)
        profile = where.report(before, after, changes=size, seconds=seconds)
        return IdealBurst(found, seconds, profile)
    finally:
        terminate(process.pid, grace=30)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        # Gone before the caller's idle window: the namespace controller's deletions of
        # its pipelines and Jobs would count there as the operator's writes.
        gone = ("delete", "namespace", namespace, "--timeout=300s")
        cluster.kubectl(*gone, check=False, timeout=330)


def _start(cluster: Cluster, namespace: str, log: Path) -> subprocess.Popen[bytes]:
    """``kopf run`` of the ideal handlers on ``namespace`` only, logging to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "-n", namespace, str(HANDLERS)],
            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _handled(
    bench: Bench, size: int, process: subprocess.Popen[bytes], *, limit: float
) -> None:
    """Until kopf has stored its diff base on every pipeline: their changes are updates."""
    deadline = time.monotonic() + limit
    while True:
        if process.poll() is not None:
            raise SystemExit(
                f"bench: the ideal operator exited ({process.returncode}), see its log"
            )
        items = (await bench.api.request("GET", bench.pipelines_path))["items"]
        done = sum(1 for p in items if DIFF_BASE in (p["metadata"].get("annotations") or {}))
        if done >= size:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: the ideal operator handled {done} of {size} in {limit:g}s")
        await asyncio.sleep(0.5)
