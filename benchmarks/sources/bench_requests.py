"""Followed-source figures, against git's real smart-HTTP backend on loopback (no cluster).

    uv run python benchmarks/sources/bench_requests.py           # 5 s poll interval
    uv run python benchmarks/sources/bench_requests.py --quick   # intervals scaled down 10x
    uv run python -m benchmarks --only sources                   # with bench_detection.py

1. Outbound requests per poll interval with 1, 50 and 300 pipelines following the
   same branch (counted at the server: ref discoveries, i.e. ``ls-remote`` calls),
   next to what one-request-per-pipeline would cost.
2. Detection latency: from ``git push`` to the registry announcing the new SHA to
   a follower, p50 and p99. The operator's reconcile (change -> Job created) comes
   on top of this; ``bench_detection.py`` measures that whole path on a cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script by `python -m benchmarks`: the repository root holds tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.sources.servers import GitServer, Repo

from modelpipe.api.sources import SourceKey, SourceKind
from modelpipe.k8s.systemclock import SystemClock
from modelpipe.sources.ratelimit import RateLimiter
from modelpipe.sources.registry import Follow, SourceRegistry


async def requests_per_interval(
    server: GitServer, *, pipelines: int, interval: float, intervals: int
) -> float:
    clock = SystemClock()
    registry = SourceRegistry(
        clock=clock, limiter=RateLimiter(clock=clock, rate_per_second=50, burst=50)
    )
    key = SourceKey(SourceKind.GIT, f"{server.base_url}/model.git", "main")
    before = server.requests["info/refs"]
    try:
        for n in range(pipelines):
            registry.follow(f"pipeline-{n}", {"code": Follow(key, interval)})
        # Half an interval of margin: the first check is immediate, then one per interval.
        await asyncio.sleep(interval * (intervals - 1) + interval / 2)
    finally:
        await registry.close()
    return (server.requests["info/refs"] - before) / intervals


async def detection_latencies(
    server: GitServer, repo: Repo, *, interval: float, pushes: int, seed: int
) -> list[float]:
    clock = SystemClock()
    registry = SourceRegistry(
        clock=clock, limiter=RateLimiter(clock=clock, rate_per_second=50, burst=50)
    )
    key = SourceKey(SourceKind.GIT, f"{server.base_url}/model.git", "main")
    rng = random.Random(seed)
    latencies = []
    try:
        registry.follow("bench", {"code": Follow(key, interval)})
        await registry.wait_changed("bench", timeout_seconds=30)
        for n in range(pushes):
            # Pushes land at a random phase of the poll cycle, as real pushes do.
            await asyncio.sleep(rng.uniform(0, interval))
            sha = await asyncio.to_thread(repo.commit, f"push {n}")
            pushed = time.monotonic()
            for _ in range(100):  # bounded: one wake-up per announced change
                if not await registry.wait_changed("bench", timeout_seconds=interval * 4):
                    break
                if registry.snapshot("bench")["code"].state.value == sha:
                    latencies.append(time.monotonic() - pushed)
                    break
    finally:
        await registry.close()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(*, quick: bool) -> None:
    interval = 0.5 if quick else 5.0
    intervals = 4 if quick else 6
    pushes = 20 if quick else 30
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repo(Path(tmp))
        server = GitServer(Path(tmp))
        server.start()
        try:
            print(f"sources: poll interval {interval:g}s, {intervals} intervals per measurement")
            for pipelines in (1, 50, 300):
                rate = await requests_per_interval(
                    server, pipelines=pipelines, interval=interval, intervals=intervals
                )
                print(
                    f"  {pipelines:>3} pipelines on one branch: {rate:.2f} ls-remote per interval "
                    f"(one per pipeline would be {pipelines})"
                )
            latencies = await detection_latencies(
                server, repo, interval=interval, pushes=pushes, seed=7
            )
        finally:
            server.stop()
    missed = pushes - len(latencies)
    print(
        f"  detection latency push -> change seen ({len(latencies)} pushes, {missed} missed): "
        f"p50 {percentile(latencies, 0.5):.2f}s, p99 {percentile(latencies, 0.99):.2f}s, "
        f"mean {statistics.fmean(latencies):.2f}s (expected ~interval/2 + one ls-remote)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scale the poll interval down 10x")
    asyncio.run(main(quick=parser.parse_args().quick))
