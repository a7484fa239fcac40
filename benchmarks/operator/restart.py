"""The settle time after an operator restart, against a floor from the same run.

A restarted operator re-lists every pipeline and reconciles each once (kopf's resume
handler), plus one pass per Job's first event; with every pipeline settled it must
create nothing. Settle time: from the new process's start to the end of the last of
those passes (the reconcile counter then stays still for ``QUIET`` seconds).

Floor: the empty operator's own start (process start -> liveness answers, measured in the
same run) plus as many raw reads as the restart made (``apiserver_request_total`` GET and
LIST in the window), sent as GETs of the pipelines with the operator's 16 threads' worth in
flight. So the ratio is what the operator adds over starting and reading.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from benchmarks.operator.fleet import OPERATOR_RESOURCES, reconciles, request_counts
from tests.e2e.harness import Operator

from localkube.cluster import Cluster

QUIET = 5.0  # seconds without a pass that end the resume
READ_VERBS = frozenset({"GET", "LIST"})
OPERATOR_THREADS = 16  # handlers.py: settings.execution.max_workers


@dataclass(frozen=True)
class Restart:
    seconds: float  # process start -> end of its last pass
    passes: int
    reads: int  # apiserver GET/LIST requests in the window (the operator's, mostly)
    writes: Counter[str]  # writes of the operator's kinds in the window
    jobs_created: int  # Jobs the watch saw appear in the window
    floor_start: float  # the empty operator's start -> liveness
    floor_reads: float  # as many raw GETs, OPERATOR_THREADS in flight


async def time_start(operator: Operator, alive: Callable[[], bool], *, limit: float) -> float:
    """Start ``operator``; seconds until its liveness endpoint answers 200."""
    started = time.monotonic()
    operator.start()
    while not alive():
        if time.monotonic() - started > limit:
            raise SystemExit(f"bench: the operator was not alive within {limit:g}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def restart(
    cluster: Cluster,
    operator: Operator,
    *,
    size: int,
    jobs_seen: Callable[[], int],
    floor_start: float,
    raw_get: Callable[[int], Awaitable[object]],
) -> Restart:
    """Stop the operator, start it again and wait out its resume passes."""
    operator.stop()
    jobs_before = jobs_seen()
    before = await asyncio.to_thread(request_counts, cluster, READ_VERBS)
    writes_before = await asyncio.to_thread(request_counts, cluster)
    started = time.monotonic()
    operator.start()
    passes, last = await _resume_passes(operator, size=size, started=started)
    after = await asyncio.to_thread(request_counts, cluster, READ_VERBS)
    writes_after = await asyncio.to_thread(request_counts, cluster)
    reads = sum(after[k] - before[k] for k in after)
    writes = Counter(
        {
            k: writes_after[k] - writes_before[k]
            for k in writes_after
            if writes_after[k] > writes_before[k] and k.split()[0] in OPERATOR_RESOURCES
        }
    )
    floor_began = time.monotonic()
    gate = asyncio.Semaphore(OPERATOR_THREADS)

    async def one(n: int) -> None:
        async with gate:
            await raw_get(n)

    await asyncio.gather(*(one(n) for n in range(reads)))
    return Restart(
        seconds=last - started,
        passes=passes,
        reads=reads,
        writes=writes,
        jobs_created=jobs_seen() - jobs_before,
        floor_start=floor_start,
        floor_reads=time.monotonic() - floor_began,
    )


async def _resume_passes(operator: Operator, *, size: int, started: float) -> tuple[int, float]:
    """Poll the pass counter until at least ``size`` passes and then QUIET seconds of none."""
    count, last = 0, started
    deadline = started + 120 + size * 0.5
    while count < size or time.monotonic() - last < QUIET:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {count} resume passes of {size} after the restart")
        await asyncio.sleep(0.25)
        try:
            now = int(await asyncio.to_thread(reconciles, operator))
        except OSError:  # the metrics port is not open yet
            continue
        if now > count:
            count, last = now, time.monotonic()
    return count, last


def report_restart(found: Restart, *, size: int) -> str:
    floor = found.floor_start + found.floor_reads
    return (
        f"  restart: settled in {found.seconds:.1f}s ({found.seconds / floor:.1f}x floor "
        f"{floor:.1f}s = start {found.floor_start:.1f}s + {found.reads} raw reads "
        f"{found.floor_reads:.1f}s); {found.passes} passes for {size} pipelines, "
        f"{found.jobs_created} Jobs created (target 0), operator writes {dict(found.writes)}"
    )
