"""Node-agent figures: pod start latency (Pending -> Running) and agent RSS with 50 pods.

Latency: pods are created one at a time (a pause between them, so each start is
measured on an otherwise idle agent); a watch notes when each pod is first seen
``Running``. The interval runs from the create call returning (the pod exists,
Pending) to that watch event, so it includes kube-scheduler's binding and the
watch delivery on both sides, as a user would see it. Target: p50 under 300 ms.

RSS: the agent process's VmRSS once 50 pods are Running. The per-container shims
are separate processes; their total is printed too, for honesty.

Runs on its own throwaway cluster (``bench-agent``), removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from localkube.agent.api import KubeApi
from localkube.agent.config import read_kubeconfig
from localkube.cluster import Cluster

NS = "bench"
PODS = f"/api/v1/namespaces/{NS}/pods"


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "agent"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "none", "command": ["sleep", "3600"]}],
        },
    }


async def note_running(api: KubeApi, seen: dict[str, float]) -> None:
    """Watch the namespace; note the monotonic time each pod is first seen Running."""
    while True:
        async for ev in api.watch(PODS, {}):
            obj = ev.get("object", {})
            name = obj.get("metadata", {}).get("name")
            if obj.get("status", {}).get("phase") == "Running" and name not in seen:
                seen[name] = time.monotonic()


async def wait_seen(seen: dict[str, float], name: str, limit: float) -> float:
    deadline = time.monotonic() + limit
    while name not in seen:
        if time.monotonic() > deadline:
            raise SystemExit(f"pod {name} did not reach Running within {limit:g} s")
        await asyncio.sleep(0.002)
    return seen[name]


async def start_pods(api: KubeApi, *, count: int, samples: int) -> list[float]:
    """Create ``count`` pods one by one; the first ``samples`` are timed, spaced out."""
    await api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": NS}})
    deadline = time.monotonic() + 30
    while not await api.get_or_none(f"/api/v1/namespaces/{NS}/serviceaccounts/default"):
        if time.monotonic() > deadline:
            raise SystemExit("the default ServiceAccount did not appear")
        await asyncio.sleep(0.1)
    seen: dict[str, float] = {}
    watcher = asyncio.create_task(note_running(api, seen))
    await asyncio.sleep(1.0)
    latencies = []
    for i in range(count):
        name = f"p{i:03d}"
        await api.request("POST", PODS, body=pod(name))
        created = time.monotonic()
        running = await wait_seen(seen, name, 30.0)
        if i < samples:
            latencies.append((running - created) * 1000)
            await asyncio.sleep(0.3)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return latencies


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def shim_rss_kib(marker: str) -> tuple[int, int]:
    total, count = 0, 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            if b"localkube.agent.shim" in cmd and marker.encode() in cmd:
                total += rss_kib(int(proc.name))
                count += 1
        except OSError:
            continue
    return total, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--pods", type=int, default=50)
    args = parser.parse_args()
    cluster = Cluster.up("bench-agent", log=lambda _m: None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            access = read_kubeconfig(cluster.kubeconfig, secrets_dir=Path(tmp))
            api = KubeApi(access)

            async def run() -> list[float]:
                try:
                    return await start_pods(api, count=args.pods, samples=args.samples)
                finally:
                    await api.close()

            latencies = asyncio.run(run())
        time.sleep(3.0)  # let the agent settle (status writes) before measuring
        agent = rss_kib(int(cluster.state["pids"]["agent"]))
        shims, count = shim_rss_kib(str(cluster.home))
        p50, p90 = statistics.median(latencies), statistics.quantiles(latencies, n=10)[8]
        print(f"pod start latency Pending->Running over {len(latencies)} pods:")
        print(f"  p50 {p50:.0f} ms  p90 {p90:.0f} ms  (target p50 < 300 ms)")
        print(f"agent RSS with {args.pods} running pods: {agent / 1024:.1f} MiB")
        print(f"  plus {count} container shims: {shims / 1024:.1f} MiB in total")
    finally:
        cluster.down(quiet=True)


if __name__ == "__main__":
    main()
