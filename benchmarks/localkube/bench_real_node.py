"""Real-node figures (issue 9): cold build times, image build cold/warm, pod start
latency (Pending -> Running) through the real kubelet. (Warm cluster-up is in
bench_control_plane.py.)

- Cold build: the kubelet/kube-proxy build (``build-info.json`` of
  ``build.sh node``) and each image's first build (``images.sh`` records it).
- Warm image build: ``images.sh all`` with nothing changed.
- Pod start: pods from the trainer image created one at a time; a watch notes
  when each is first seen, and first seen Running. Both are timed from just before
  the create call: Running includes scheduling, the kubelet, containerd and runc,
  and the watch; the floor, the same pods' first event, is the API server and the
  watch alone (as bench_operator's floor).

Runs on its own throwaway cluster (``bench-real``), removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config, watch

from localkube.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "hack" / "localkube" / "images.sh"
BUILD = ROOT / "hack" / "localkube" / "build.sh"
NS = "bench"
TRAINER = "ghcr.io/modelpipe/modelpipe-trainer:0.1.0"


def cold_figures() -> None:
    node_dir = subprocess.run(
        ["bash", str(BUILD), "--print-dir", "node"], capture_output=True, text=True, check=True
    ).stdout.strip()
    info = Path(node_dir) / "build-info.json"
    if info.exists():
        print(f"cold build, kubelet + kube-proxy: {json.loads(info.read_text())['buildSeconds']} s")
    cache = subprocess.run(
        ["bash", str(IMAGES), "--print-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    newest: dict[str, dict[str, Any]] = {}
    for record in sorted(Path(cache).glob("*.build.json"), key=lambda p: p.stat().st_mtime):
        doc = json.loads(record.read_text())
        newest[doc["name"]] = doc
    for name, doc in sorted(newest.items()):
        print(f"cold image build (latest), {name}: {doc['seconds']} s")
    t0 = time.monotonic()
    subprocess.run(["bash", str(IMAGES), "all"], check=True, capture_output=True)
    print(f"warm image build (nothing changed), all images: {time.monotonic() - t0:.1f} s")


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "c",
                    "image": TRAINER,
                    "imagePullPolicy": "Never",
                    "command": ["sleep", "3600"],
                }
            ],
        },
    }


def pod_latencies(cluster: Cluster, samples: int) -> tuple[list[float], list[float]]:
    """Milliseconds from each create to the pod seen Running, and first seen (the floor)."""
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    deadline = time.monotonic() + 30
    while not api.list_namespaced_service_account(NS).items:
        if time.monotonic() > deadline:
            raise SystemExit("the default ServiceAccount did not appear")
        time.sleep(0.1)
    seen: dict[str, float] = {}
    first: dict[str, float] = {}
    stream = watch.Watch()

    def note() -> None:
        with contextlib.suppress(Exception):  # the stream ends when the cluster stops
            for ev in stream.stream(api.list_namespaced_pod, NS, timeout_seconds=600):
                obj, now = ev["object"], time.monotonic()
                first.setdefault(obj.metadata.name, now)
                if obj.status.phase == "Running" and obj.metadata.name not in seen:
                    seen[obj.metadata.name] = now

    threading.Thread(target=note, daemon=True).start()
    time.sleep(1.0)
    latencies, floor = [], []
    for i in range(samples):
        name = f"p{i:03d}"
        sent = time.monotonic()
        api.create_namespaced_pod(NS, cast(client.V1Pod, pod(name)))  # the client takes a dict too
        limit = time.monotonic() + 60
        while name not in seen:
            if time.monotonic() > limit:
                raise SystemExit(f"pod {name} did not reach Running within 60 s")
            time.sleep(0.005)
        latencies.append((seen[name] - sent) * 1000)
        floor.append((first[name] - sent) * 1000)
        time.sleep(0.3)
    stream.stop()
    return latencies, floor


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[
        min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    cold_figures()
    cluster = Cluster.up("bench-real", log=lambda _m: None)
    try:
        ms, floor = pod_latencies(cluster, args.samples)
        (p50, p99), (f50, f99) = quantiles(ms), quantiles(floor)
        print(
            f"pod Pending->Running on the real node ({len(ms)} pods): "
            f"p50 {p50:.0f} ms ({p50 / max(f50, 0.1):.0f}x floor), "
            f"p99 {p99:.0f} ms ({p99 / max(f99, 0.1):.0f}x floor), max {max(ms):.0f} ms"
        )
        print(f"  floor, create -> first watch event: p50 {f50:.1f} ms, p99 {f99:.1f} ms")
    finally:
        cluster.down(quiet=True)


if __name__ == "__main__":
    main()
