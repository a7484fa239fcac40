"""Time from a regression's onset to its rollback, against the bake interval, on a real node.

    uv run python benchmarks/operator/bench_bake.py [--samples N | --quick] [--cluster NAME]

The iris example with ``spec.serving.analysis`` (tests/e2e/test_bake_e2e.py): a first model
is promoted, then each sample promotes a new one (the v2 dataset, then a retrain of it),
which starts its bake window. Once it serves, the regression begins: its limit
(``maxLatencyP99Ms``) is one no server meets, so the first request of a bounded load
(``REQUESTS`` predictions over loopback to the serving pods) is the onset. Printed, per
sample: onset -> ``status.lastRun`` RolledBack and the serving Deployment's template back
on the first model, against the operator's re-read interval in the window
(``planning.bake.POLL_SECONDS``), as a ratio. The figure is the load's own time, up to one
interval of waiting for the next read, one pass, and the pass that moves the Deployment.
Sample n's onset waits n/N of the interval after the new model first answers, so the
onsets fall at different points of the operator's read cycle (its timer is re-armed by
every pass, and the pods becoming ready cause one).

Each sample is a whole promotion (a training Job and new serving pods; under a minute
here, minutes on a loaded machine), so the default is 3 samples. A throwaway cluster
``bench-bake`` is started and removed at the end (a cluster already running is kept).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.operator.fleet import cluster_with_crd
from tests.e2e.harness import (
    POLICY,
    SERVING,
    Namespace,
    Operator,
    answer,
    example_data_server,
    example_documents,
    promoted,
    ready_pods,
)

from localkube.cluster import Cluster
from localkube.reach import exposed
from localkube.waiting import wait_for
from modelpipe.layout import MODEL_VERSION_ANNOTATION
from modelpipe.planning.bake import POLL_SECONDS

# No server answers within 10 microseconds at p99: every promoted model breaks it.
ANALYSIS = {"bakeSeconds": 3600, "maxLatencyP99Ms": 0.01, "minRequests": 20}
REQUESTS = 40  # spread over the serving pods: enough for minRequests in total
SLOW = 900  # a promotion on a loaded 2-core machine: a training Job, new pods


def load(ns: Namespace, pods: list[dict[str, Any]]) -> None:
    """``REQUESTS`` predictions, round robin over the pods, from the node's network."""
    for n in range(REQUESTS):
        answer(ns, pods[n % len(pods)])


def rolled_back(ns: Namespace, version: str, first: str) -> bool:
    run = ns.pipeline()["status"].get("lastRun") or {}
    if run.get("modelVersion") != version or run.get("verdict") != "RolledBack":
        return False
    deployments: list[dict[str, Any]] = ns.items("deployments", SERVING)
    annotations = [d["spec"]["template"]["metadata"].get("annotations", {}) for d in deployments]
    return bool(annotations) and all(a.get(MODEL_VERSION_ANNOTATION) == first for a in annotations)


def sample(
    ns: Namespace, first: str, promote: dict[str, Any] | None, token: str, delay: float
) -> tuple[float, float]:
    """One promotion rolled back: (onset -> rolled back, the load's own time)."""
    if promote is not None:
        ns.patch("iris", promote)
    else:
        ns.retrain(token)
    version = promoted(ns, besides=first, timeout=SLOW)
    pods = wait_for("the promoted model's pods", lambda: ready_pods(ns, SERVING), timeout=60)
    time.sleep(delay)
    onset = time.monotonic()
    load(ns, pods)
    loaded = time.monotonic() - onset
    wait_for(
        f"the rollback of {version}",
        lambda: rolled_back(ns, version, first),
        timeout=SLOW,
        every=0.2,
    )
    took = time.monotonic() - onset
    # The next sample starts from the first model answering again.
    promoted(ns, besides=version, timeout=SLOW)
    return took, loaded


def bench(cluster: Cluster, ns: Namespace, samples: int, tmp: Path) -> list[float]:
    operator = Operator(cluster, ns.name, tmp)
    operator.start()
    try:
        with example_data_server(tmp / "data") as served, exposed(cluster, served) as url:
            serving = {"analysis": ANALYSIS, "progressDeadlineSeconds": SLOW}
            ns.apply(*example_documents(data_url=url, serving=serving))
            first = promoted(ns, timeout=SLOW)
            v2 = {"spec": {"dataset": {"uri": f"{url}/v2.csv", "version": "v2"}}}
            times = []
            for n in range(samples):
                delay = POLL_SECONDS * n / samples
                change = v2 if n == 0 else None
                took, loaded = sample(ns, first, change, f"bench-{n}", delay)
                print(
                    f"  sample {n + 1} (onset {delay:.1f}s after the model answered): "
                    f"onset -> rolled back {took:.1f}s ({took / POLL_SECONDS:.2f}x the "
                    f"interval; the load itself {loaded:.1f}s)",
                    flush=True,
                )
                times.append(took)
            return times
    finally:
        operator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3, help="promotions rolled back")
    parser.add_argument("--quick", action="store_true", help="2 samples")
    parser.add_argument("--cluster", default="bench-bake", help="local cluster to use")
    args = parser.parse_args()
    cluster, already = cluster_with_crd(args.cluster)
    cluster.kubectl("apply", "-f", str(POLICY))
    ns = Namespace(cluster, f"bench-bake-{uuid.uuid4().hex[:5]}")
    started = time.monotonic()
    print(
        f"bake window: onset of a regression ({REQUESTS} requests over a limit no server "
        f"meets) -> rolled back, against the re-read interval of {POLL_SECONDS:g}s",
        flush=True,
    )
    try:
        cluster.kubectl("create", "namespace", ns.name)
        wait_for("the default ServiceAccount", lambda: ns.get("sa", "default"), timeout=60)
        with tempfile.TemporaryDirectory(prefix="bench-bake-") as tmp:
            times = bench(cluster, ns, 2 if args.quick else args.samples, Path(tmp))
    finally:
        if already:
            cluster.kubectl("delete", "namespace", ns.name, "--wait=false", check=False)
        else:
            cluster.down(quiet=True)
    ratios = ", ".join(f"{t / POLL_SECONDS:.2f}x" for t in times)
    print(
        f"  onset -> rolled back (n={len(times)}): min {min(times):.1f}s max {max(times):.1f}s; "
        f"as ratios to the {POLL_SECONDS:g}s interval: {ratios}"
    )
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nbake bench done in {time.monotonic() - started:.0f}s (load average {load_avg})")


if __name__ == "__main__":
    main()
