"""The operator's own API client against two kept, typed, httpx-based ones (issue 12).

    python benchmarks/operator/bench_clients.py [--rounds 200]

``modelpipe.k8s.rest.Rest`` sends plain JSON over the kubernetes package's transport.
The question is whether lightkube or kr8s should replace it. Figures, from the same run
and against the same API server (a local cluster, ``bench-clients``, removed afterwards):

- import cost: wall time and peak RSS of a fresh interpreter that imports the client,
  as a ratio to a bare interpreter;
- per-request latency, p50 and p99, for the three calls a reconcile makes most: GET one
  ModelPipeline, a merge patch of its status subresource, and a list by label selector;
  each as a ratio to ``Rest``.

Every client uses one connection pool and the same kubeconfig (client certificates).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kr8s
from kr8s.objects import new_class
from lightkube import Client, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

# Run as a script by `python -m benchmarks`: the repository root holds tests/ and benchmarks/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.e2e.harness import Namespace, example_documents
from tests.packaging.chart_helpers import apply_crds

from localkube.cluster import Cluster
from modelpipe.k8s.rest import MERGE_PATCH, Rest, connect

NS = "bench-clients"
NAME = "iris"
GROUP, VERSION, PLURAL = "modelpipe.io", "v1alpha1", "modelpipelines"
SELECTOR = "bench=clients"
IMPORTS = {
    "Rest (kubernetes package)": "import modelpipe.k8s.rest",
    "lightkube": "import lightkube, lightkube.generic_resource",
    "kr8s": "import kr8s, kr8s.objects",
}

Calls = dict[str, Callable[[int], object]]


def import_cost(statement: str) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a fresh interpreter running ``statement``."""
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's at fork.
    probe = (
        "import re, time; t = time.perf_counter(); "
        f"{statement}; "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print(time.perf_counter() - t, hwm)"
    )
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
        ).stdout.split()
        runs.append((float(out[0]), int(out[1]) / 1024))
    return min(r[0] for r in runs), min(r[1] for r in runs)


def rest_calls(kubeconfig: Path) -> Calls:
    rest = Rest(connect(kubeconfig, pool_size=4))
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{NS}/{PLURAL}"
    return {
        "get": lambda i: rest.request("GET", f"{base}/{NAME}"),
        "patch status": lambda i: rest.request(
            "PATCH",
            f"{base}/{NAME}/status",
            body={"status": {"observedGeneration": i}},
            content_type=MERGE_PATCH,
        ),
        "list": lambda i: rest.list_items(base, selector=SELECTOR),
    }


def lightkube_calls(kubeconfig: Path) -> Calls:
    client = Client(config=KubeConfig.from_file(str(kubeconfig)))
    pipeline = create_namespaced_resource(GROUP, VERSION, "ModelPipeline", PLURAL)
    status = {"status": {"observedGeneration": 0}}

    def patch(i: int) -> object:
        status["status"]["observedGeneration"] = i
        return client.patch(pipeline.Status, NAME, status, namespace=NS, patch_type=PatchType.MERGE)

    return {
        "get": lambda i: client.get(pipeline, NAME, namespace=NS),
        "patch status": patch,
        "list": lambda i: list(client.list(pipeline, namespace=NS, labels={"bench": "clients"})),
    }


def kr8s_calls(kubeconfig: Path) -> Calls:
    api = kr8s.api(kubeconfig=str(kubeconfig))
    pipeline_class: Any = new_class(
        kind="ModelPipeline", version=f"{GROUP}/{VERSION}", namespaced=True, plural=PLURAL
    )
    found = pipeline_class.get(NAME, namespace=NS, api=api)
    return {
        "get": lambda i: pipeline_class.get(NAME, namespace=NS, api=api),
        "patch status": lambda i: found.patch(
            {"status": {"observedGeneration": i}}, subresource="status", type="merge"
        ),
        "list": lambda i: list(api.get(f"{PLURAL}.{GROUP}", namespace=NS, label_selector=SELECTOR)),
    }


def latencies(calls: Calls, rounds: int) -> dict[str, tuple[float, float]]:
    """Per call: (p50, p99) in ms over ``rounds`` sequential requests, after a warm-up."""
    figures = {}
    for name, call in calls.items():
        for i in range(5):
            call(i)
        times = []
        for i in range(rounds):
            start = time.perf_counter()
            call(i)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        figures[name] = (statistics.median(times), times[min(len(times) - 1, rounds * 99 // 100)])
    return figures


def prepare(cluster: Cluster) -> None:
    apply_crds(cluster)
    ns = Namespace(cluster, NS)
    ns.kubectl("create", "namespace", NS)
    _pvc, pipeline = example_documents(data_url="http://127.0.0.1:1/iris.csv", name=NAME)
    pipeline["metadata"]["labels"] = {"bench": "clients"}
    pipeline["spec"]["suspend"] = True  # no operator runs; the object only has to exist
    done = ns.apply(pipeline)
    if done.returncode != 0:
        raise SystemExit(f"could not create the ModelPipeline: {done.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    bare, bare_rss = import_cost("pass")
    print("import cost (fresh interpreter; ratio to a bare one):")
    for label, statement in IMPORTS.items():
        seconds, rss = import_cost(statement)
        print(
            f"  {label:28s} {seconds * 1000:7.0f} ms   peak RSS {rss:6.1f} MiB "
            f"({rss / bare_rss:.1f}x the bare {bare_rss:.1f} MiB; bare start {bare * 1000:.1f} ms)"
        )

    cluster = Cluster.up("bench-clients", log=lambda _m: None)
    try:
        prepare(cluster)
        results = {
            "Rest": latencies(rest_calls(cluster.kubeconfig), args.rounds),
            "lightkube": latencies(lightkube_calls(cluster.kubeconfig), args.rounds),
            "kr8s": latencies(kr8s_calls(cluster.kubeconfig), args.rounds),
        }
    finally:
        cluster.down(quiet=True)
    print(
        f"\nper-request latency, {args.rounds} sequential requests (p50 / p99 ms; ratio to Rest):"
    )
    for client_name, figures in results.items():
        for call, (p50, p99) in figures.items():
            base50, base99 = results["Rest"][call]
            print(
                f"  {client_name:10s} {call:13s} {p50:6.2f} / {p99:6.2f}   "
                f"({p50 / base50:.2f}x / {p99 / base99:.2f}x)"
            )
    print(json.dumps({c: {k: list(v) for k, v in f.items()} for c, f in results.items()}))


if __name__ == "__main__":
    main()
