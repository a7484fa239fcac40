"""Failover time with a standby replica, and the training queue's fairness, on a local cluster.

    uv run python benchmarks/operator/bench_replicas.py [--quick] [--cluster NAME]

1. Failover: two operators with ``--leader-election`` for one namespace of 20 settled
   pipelines. Each round SIGKILLs the replica holding the Lease and at once changes one
   pipeline; printed: kill -> the standby holds the Lease, against the 10 s the Lease rule
   makes it wait (``k8s/leader.py``: a record unrenewed for 10 s by its own clock), and
   kill -> the changed pipeline's Job, against the 15 s target (issue 13). The killed
   replica comes back as the standby before the next round.
2. Fairness: one operator with ``--max-training-jobs 2`` over three namespaces; 12, 4 and
   2 pipelines changed in that order (the first namespace's requests are the oldest).
   Printed: the Jobs started per namespace (by creation time, to the second) in the first
   rounds of slots, next to what first come, first served would have started (the floor:
   no fairness at all).

Runs are one pod each (a code test: a short sleep, then exit 1). A throwaway cluster
``bench-replicas`` is started and removed (a cluster already running is kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.operator.fleet import Json, cluster_with_crd, pipeline, pvc, quantiles
from tests.e2e.harness import Namespace, Operator

from localkube.cluster import Cluster
from localkube.waiting import wait_for

LEASE = "modelpipe-operator"
LEASE_SECONDS = 10
TARGET_SECONDS = 15
FAIR = {"a": 12, "b": 4, "c": 2}  # pipelines per namespace suffix, in the order changed
SLOTS = 2


def run_pipeline(name: str, revision: str, *, sleep: int) -> Json:
    document = pipeline(name, revision)
    document["spec"]["code"]["test"] = {"command": ["sh", "-c", f"sleep {sleep}; exit 1"]}
    return document


def job_created(ns: Namespace, name: str, revision: str) -> bool:
    return any(f"for code {revision}," in m and f" {name}-" in m for m in ns.events("JobCreated"))


def holder(ns: Namespace) -> str:
    lease = ns.get("lease", LEASE) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def failover(cluster: Cluster, ns: Namespace, tmp: Path, rounds: int) -> None:
    args = ("--leader-election", LEASE, "--leader-election-namespace", ns.name)
    replicas = [Operator(cluster, ns.name, tmp / n, extra_args=args) for n in ("a", "b")]
    names = [f"f{n:02d}" for n in range(20)]
    ns.apply(pvc(), *(run_pipeline(n, "r0", sleep=1) for n in names))
    leases, jobs = [], []
    try:
        for replica in replicas:
            replica.log_dir.mkdir()
            replica.start()
        for name in names:
            wait_for(f"{name}'s first run", partial(job_created, ns, name, "r0"), timeout=300)
        for round_ in range(rounds):
            leader = holder(ns)
            active = next(r for r in replicas if r.process and leader.endswith(f"-{r.process.pid}"))
            active.kill()
            killed = time.monotonic()
            name, revision = names[round_ % len(names)], f"r{round_ + 1}"
            ns.apply(run_pipeline(name, revision, sleep=1))
            wait_for("a new holder", partial(_held_by_other, ns, leader), every=0.2)
            leases.append(time.monotonic() - killed)
            wait_for(f"{name}'s Job", partial(job_created, ns, name, revision), every=0.2)
            jobs.append(time.monotonic() - killed)
            active.start()
            wait_for("the standby", partial(_standing_by, active), timeout=120)
    finally:
        for replica in replicas:
            replica.stop()
    (l50, l99), (j50, j99) = quantiles(leases), quantiles(jobs)
    print(
        f"  kill -> standby holds the Lease (n={len(leases)}): p50 {l50:.1f}s p99 {l99:.1f}s "
        f"({l99 / LEASE_SECONDS:.2f}x the Lease rule's {LEASE_SECONDS} s)\n"
        f"  kill -> Job for a change made at the kill: p50 {j50:.1f}s p99 {j99:.1f}s "
        f"({j99 / LEASE_SECONDS:.2f}x the Lease rule; target {TARGET_SECONDS} s)",
        flush=True,
    )


def _held_by_other(ns: Namespace, leader: str) -> bool:
    return holder(ns) not in ("", leader)


def _standing_by(replica: Operator) -> bool:
    return replica.logs().count("Waiting to hold Lease") == replica.starts


def fairness(cluster: Cluster, prefix: str, tmp: Path) -> None:
    spaces = {suffix: Namespace(cluster, f"{prefix}-{suffix}") for suffix in FAIR}
    for ns in spaces.values():
        cluster.kubectl("create", "namespace", ns.name)
        ns.apply(pvc())
    first, *others = [ns.name for ns in spaces.values()]
    extra = ["--standalone", "--max-training-jobs", str(SLOTS)]
    for other in others:
        extra += ["--namespace", other]
    operator = Operator(cluster, first, tmp / "fair", extra_args=tuple(extra))
    operator.log_dir.mkdir()
    operator.start()
    order = [ns.name for ns in spaces.values() for _ in range(FAIR[ns.name[-1]])]
    try:
        for suffix, ns in spaces.items():
            ns.apply(*(run_pipeline(f"q{n:02d}", "r0", sleep=3) for n in range(FAIR[suffix])))
        total = sum(FAIR.values())
        wait_for("every queued run", partial(_started, cluster, prefix, total), timeout=600)
    finally:
        operator.stop()
    started = _started(cluster, prefix, total) or []
    shown = 3 * len(FAIR) * SLOTS // 2
    for what, namespaces in (("the queue", started), ("first come, first served", order)):
        counts = Counter(n.rsplit("-", 1)[1] for n in namespaces[:shown])
        print(
            f"  first {shown} Jobs started, per namespace, {what}: {dict(sorted(counts.items()))}"
        )
    print(f"  order of every start: {' '.join(n.rsplit('-', 1)[1] for n in started)}", flush=True)


def _started(cluster: Cluster, prefix: str, count: int) -> list[str] | None:
    """Namespaces of the Jobs created so far, by creation time, once there are ``count``."""
    raw = cluster.kubectl("get", "jobs", "-A", "-l", "modelpipe.io/pipeline", "-o", "json")
    jobs = [
        j for j in json.loads(raw.stdout)["items"] if j["metadata"]["namespace"].startswith(prefix)
    ]
    if len(jobs) < count:
        return None
    jobs.sort(key=lambda j: (j["metadata"]["creationTimestamp"], j["metadata"]["uid"]))
    return [j["metadata"]["namespace"] for j in jobs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 failover rounds, not 10")
    parser.add_argument("--cluster", default="bench-replicas", help="local cluster to use")
    args = parser.parse_args()
    cluster, already = cluster_with_crd(args.cluster)
    prefix = f"bench-rep-{uuid.uuid4().hex[:5]}"
    started = time.monotonic()
    try:
        cluster.kubectl("create", "namespace", prefix)
        with tempfile.TemporaryDirectory() as tmp:
            print("failover, two replicas (--leader-election), 20 pipelines:", flush=True)
            failover(cluster, Namespace(cluster, prefix), Path(tmp), 3 if args.quick else 10)
            print(f"\nfairness, --max-training-jobs {SLOTS}, pipelines per namespace {FAIR}:")
            fairness(cluster, f"{prefix}-q", Path(tmp))
    finally:
        if already:
            for suffix in ("", *(f"-q-{s}" for s in FAIR)):
                cluster.kubectl("delete", "namespace", prefix + suffix, "--wait=false", check=False)
        else:
            cluster.down(quiet=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nreplicas bench done in {time.monotonic() - started:.0f}s (load average {load})")


if __name__ == "__main__":
    main()
