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
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from localkube.cluster import Cluster

NS = "bench"


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


class RunningWatch:
    """Notes the monotonic time at which each pod is first seen Running."""

    def __init__(self, core: client.CoreV1Api) -> None:
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(core,), daemon=True)
        self._thread.start()

    def _run(self, core: client.CoreV1Api) -> None:
        w = watch.Watch()
        while not self._stop.is_set():
            for ev in w.stream(core.list_namespaced_pod, NS, timeout_seconds=5):
                p = ev["object"]
                if p.status.phase == "Running" and p.metadata.name not in self.seen:
                    self.seen[p.metadata.name] = time.monotonic()
                if self._stop.is_set():
                    break

    def wait(self, name: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if name in self.seen:
                return self.seen[name]
            time.sleep(0.005)
        return None

    def stop(self) -> None:
        self._stop.set()


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
        config.load_kube_config(config_file=str(cluster.kubeconfig))
        core = client.CoreV1Api()
        core.create_namespace({"metadata": {"name": NS}})
        deadline = time.monotonic() + 30
        while not core.list_namespaced_service_account(NS).items and time.monotonic() < deadline:
            time.sleep(0.1)
        watcher = RunningWatch(core)
        time.sleep(1.0)
        latencies = []
        for i in range(args.pods):
            name = f"p{i:03d}"
            core.create_namespaced_pod(NS, pod(name))
            created = time.monotonic()
            running = watcher.wait(name, 30.0)
            if running is None:
                raise SystemExit(f"pod {name} did not reach Running within 30 s")
            if i < args.samples:
                latencies.append((running - created) * 1000)
                time.sleep(0.3)
        watcher.stop()
        time.sleep(3.0)  # let the agent settle (probes, status writes) before measuring
        agent = rss_kib(int(cluster.state["pids"]["agent"]))
        shims, count = shim_rss_kib(str(cluster.home))
        qs = statistics.quantiles(latencies, n=10)
        print(f"pod start latency Pending->Running over {len(latencies)} pods:")
        print(f"  p50 {statistics.median(latencies):.0f} ms  p90 {qs[8]:.0f} ms  (target p50 < 300 ms)")
        print(f"agent RSS with {args.pods} running pods: {agent / 1024:.1f} MiB")
        print(f"  plus {count} container shims: {shims / 1024:.1f} MiB in total")
    finally:
        cluster.down(quiet=True)


if __name__ == "__main__":
    main()
