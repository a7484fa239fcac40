"""Real-node figures (issue 9): cold build times, warm cluster-up, image build
cold/warm, pod start latency (Pending -> Running) through the real kubelet.

- Cold build: the kubelet/kube-proxy build (``build-info.json`` of
  ``build.sh node``) and each image's first build (``images.sh`` records it).
- Warm image build: ``images.sh all`` with nothing changed.
- Warm cluster-up: ``localkube up --node real`` on a stopped cluster whose image
  store is already loaded (the usual case after the first start).
- Pod start: pods from the trainer image created one at a time; a watch notes
  when each is first seen Running. The interval runs from the create call
  returning to that event, so it includes scheduling and watch delivery.

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


def warm_up() -> Cluster:
    cluster = Cluster.up("bench-real", node="real", timeout=900, log=lambda _m: None)
    cluster.down(quiet=True)
    t0 = time.monotonic()
    cluster = Cluster.up("bench-real", node="real", log=lambda _m: None)
    print(f"warm cluster-up with a real node: {time.monotonic() - t0:.1f} s (goal: 20 s)")
    return cluster


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


def pod_latencies(cluster: Cluster, samples: int) -> list[float]:
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    deadline = time.monotonic() + 30
    while not api.list_namespaced_service_account(NS).items:
        if time.monotonic() > deadline:
            raise SystemExit("the default ServiceAccount did not appear")
        time.sleep(0.1)
    seen: dict[str, float] = {}
    stream = watch.Watch()

    def note() -> None:
        with contextlib.suppress(Exception):  # the stream ends when the cluster stops
            for ev in stream.stream(api.list_namespaced_pod, NS, timeout_seconds=600):
                obj = ev["object"]
                if obj.status.phase == "Running" and obj.metadata.name not in seen:
                    seen[obj.metadata.name] = time.monotonic()

    threading.Thread(target=note, daemon=True).start()
    time.sleep(1.0)
    latencies = []
    for i in range(samples):
        name = f"p{i:03d}"
        api.create_namespaced_pod(NS, cast(client.V1Pod, pod(name)))  # the client takes a dict too
        created = time.monotonic()
        limit = created + 60
        while name not in seen:
            if time.monotonic() > limit:
                raise SystemExit(f"pod {name} did not reach Running within 60 s")
            time.sleep(0.005)
        latencies.append((seen[name] - created) * 1000)
        time.sleep(0.3)
    stream.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    cold_figures()
    cluster = warm_up()
    try:
        ms = sorted(pod_latencies(cluster, args.samples))
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(
            f"pod Pending->Running on the real node ({len(ms)} pods): "
            f"p50 {statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms"
        )
    finally:
        cluster.down(quiet=True)


if __name__ == "__main__":
    main()
