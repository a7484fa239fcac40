"""Detection latency through the operator: from a push, a data change or a new S3 object
version to the Job created.

    uv run python benchmarks/sources/bench_detection.py           # 5 s poll interval
    uv run python benchmarks/sources/bench_detection.py --quick   # 1 s, fewer samples

Everything is real: a local cluster (its own, ``bench-sources``, removed afterwards,
unless ``--cluster`` names one that is already running), the operator as its
console script on the node (tests/e2e/harness.py), git's smart-HTTP backend and an
HTTP data server on loopback (tests/sources/servers.py), which the node reaches
through localkube.reach. One pipeline follows a branch and a
dataset, without debouncing. Each push, and each replacement of the data file,
lands at a random phase of the poll cycle; a watch on the namespace's Jobs notes
when the Job for that commit (annotation ``modelpipe.io/code-revision``) or data
version (``modelpipe.io/dataset-version``) is first seen. So the figure is what a
user waits: the poll, ``ls-remote`` or the conditional GET, the reconcile, the
Job create and the watch delivery. Expect about half the interval plus ~0.5 s.

Then the dataset moves to ``s3://`` on a real S3 server (versitygw on loopback,
tests/objectstore, a versioned bucket, keys in an opted-in Secret) and each change is a
``put_object`` of a new version of the object: the signed HEAD, the reconcile, the Job.
Each figure is also given as a ratio to the poll interval, the floor: a change at a
random phase waits interval/2 on average for the next poll, so ~0.5 is the best
possible p50.

The Jobs are cheap on purpose: the pipeline's code test exits 1, so each pod stops
after its clone and no trainer runs; the measurement ends at the Job's creation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

# Run as a script by `python -m benchmarks`: the repository root holds tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.kubeapi import KubeApi
from tests.e2e.harness import CRD, Operator, example_documents, load_example_datasets, secret
from tests.objectstore.server import S3Server, server_binary
from tests.sources.servers import DataServer, GitServer, Repo, Served

from localkube.cluster import Cluster
from localkube.reach import exposed
from modelpipe.sources.s3data import object_version

NAME = "bench"
CODE, DATA = "modelpipe.io/code-revision", "modelpipe.io/dataset-version"


def pipeline_documents(*, git_url: str, data_url: str, interval: str) -> list[dict[str, Any]]:
    """The iris example following ``git_url@main`` and ``data_url``; its code test fails fast."""
    pvc, pipeline = example_documents(data_url="http://127.0.0.1:9", name=NAME)
    spec = pipeline["spec"]
    spec["code"] = {
        "git": {"url": git_url, "ref": "main", "pollInterval": interval},
        "test": {"command": ["sh", "-c", "exit 1"]},
    }
    spec["dataset"].pop("version")
    spec["dataset"].update(uri=data_url, pollInterval=interval)
    return [pvc, pipeline]


class JobWatch:
    """When each Job was first seen, keyed by the input it was made for (``annotation=value``)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    async def run(self, api: KubeApi, namespace: str) -> None:
        path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
        for _ in range(1000):  # bounded: the apiserver ends watches after a few minutes
            async for event in api.watch(path, {"labelSelector": f"modelpipe.io/pipeline={NAME}"}):
                annotations = event.get("object", {}).get("metadata", {}).get("annotations") or {}
                now = time.monotonic()
                for key in (CODE, DATA):
                    if key in annotations:
                        self.seen.setdefault(f"{key}={annotations[key]}", now)

    async def wait(self, key: str, *, limit: float) -> float | None:
        deadline = time.monotonic() + limit
        while key not in self.seen:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.01)
        return self.seen[key]


async def latencies(
    watch: JobWatch, change: Callable[[int], str], *, key: str, samples: int, interval: float
) -> list[float]:
    """Make ``samples`` changes at random phases; seconds from each to its Job being seen."""
    rng = random.Random(7)
    found = []
    for n in range(samples):
        await asyncio.sleep(rng.uniform(0, interval))
        value = await asyncio.to_thread(change, n)
        changed = time.monotonic()
        seen = await watch.wait(f"{key}={value}", limit=interval * 4 + 30)
        if seen is not None:
            found.append(seen - changed)
    return found


def report(what: str, values: list[float], *, samples: int, interval: float) -> None:
    if len(values) < 2:
        print(f"  {what}: only {len(values)} of {samples} changes produced a Job")
        return
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    print(
        f"  {what} ({len(values)}/{samples} changes, poll {interval:g}s): "
        f"p50 {cuts[49]:.2f}s ({cuts[49] / interval:.2f}x interval)  "
        f"p99 {cuts[98]:.2f}s ({cuts[98] / interval:.2f}x)  max {max(values):.2f}s"
    )


async def measure(
    cluster: Cluster, namespace: str, *, interval: float, samples: int, tmp: Path
) -> None:
    repo = Repo(tmp)
    git, data = GitServer(tmp), DataServer()
    git.start()
    data.start()
    # The servers stay on the host's loopback; the operator and its pods, on the node,
    # reach them through localkube.reach's relays.
    relays = contextlib.ExitStack()
    git.public_base = relays.enter_context(exposed(cluster, git.local_url))
    data.public_base = relays.enter_context(exposed(cluster, data.local_url))
    rows = load_example_datasets().iris_frame().to_csv(index=False).encode()
    url = data.put("/iris.csv", Served(rows))
    api = KubeApi(cluster)
    watch = JobWatch()
    watcher = asyncio.create_task(watch.run(api, namespace))
    # The benchmark polls faster than the operator's default floor (10 s) allows.
    operator = Operator(
        cluster, namespace, tmp, extra_args=("--standalone", "--min-poll-interval", "1s")
    )
    operator.start()
    try:
        docs = pipeline_documents(
            git_url=f"{git.base_url}/model.git", data_url=url, interval=f"{interval:g}s"
        )
        manifest = yaml.safe_dump_all(docs)
        cluster.kubectl("--namespace", namespace, "apply", "-f", "-", input=manifest)
        if await watch.wait(f"{CODE}={repo.head()}", limit=120) is None:
            raise SystemExit("no first Job within 120 s:\n" + operator.logs()[-3000:])

        def push(n: int) -> str:
            return repo.commit(f"push {n}")

        def new_rows(n: int) -> str:
            body = rows + f"5.{n % 10},3.{n % 7},1.4,0.2,setosa\n".encode()
            data.put("/iris.csv", Served(body))
            return Served(body).version

        print(f"sources through the operator: poll interval {interval:g}s")
        for what, change, key in (("push -> Job", push, CODE), ("data -> Job", new_rows, DATA)):
            found = await latencies(watch, change, key=key, samples=samples, interval=interval)
            report(what, found, samples=samples, interval=interval)
        s3 = relays.enter_context(S3Objects(cluster, namespace, tmp, rows))
        await s3.follow(watch, interval=interval)
        found = await latencies(watch, s3.put, key=DATA, samples=samples, interval=interval)
        report("S3 object -> Job", found, samples=samples, interval=interval)
    finally:
        operator.stop()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await api.close()
        relays.close()
        git.stop()
        data.stop()


class S3Objects(contextlib.AbstractContextManager["S3Objects"]):
    """The pipeline's dataset as an object in a versioned bucket on a real S3 server."""

    BUCKET, KEY, KEYS = "bench-data", "iris/train.csv", "bench-s3"

    def __init__(self, cluster: Cluster, namespace: str, tmp: Path, rows: bytes) -> None:
        self.cluster, self.namespace, self.rows = cluster, namespace, rows
        self.server = S3Server(data_dir=tmp / "s3", binary=server_binary())
        self.relay = contextlib.ExitStack()

    def __enter__(self) -> S3Objects:
        self.server.start()
        self.server.bucket(self.BUCKET, versioned=True)
        self.client = self.server.client()
        self.endpoint = self.relay.enter_context(exposed(self.cluster, self.server.endpoint))
        return self

    def __exit__(self, *_: object) -> None:
        self.relay.close()
        self.server.stop()

    def put(self, n: int) -> str:
        """A new version of the object; the dataset version the operator will see."""
        body = self.rows + f"5.{n % 10},3.{n % 7},1.4,0.2,setosa\n".encode()
        put = self.client.put_object(Bucket=self.BUCKET, Key=self.KEY, Body=body)
        version = object_version(version_id=put.get("VersionId"), etag=put.get("ETag"))
        assert version is not None
        return version

    async def follow(self, watch: JobWatch, *, interval: float) -> None:
        """Point the pipeline's dataset at the object, with opted-in keys; its first Job."""
        keys = secret(
            self.KEYS,
            prefix=f"s3://{self.BUCKET}/iris",
            AWS_ACCESS_KEY_ID=self.server.access_key,
            AWS_SECRET_ACCESS_KEY=self.server.secret_key,
            AWS_ENDPOINT_URL=self.endpoint,
        )
        first = await asyncio.to_thread(self.put, 1000)
        self.cluster.kubectl("-n", self.namespace, "apply", "-f", "-", input=yaml.safe_dump(keys))
        dataset = {
            "uri": f"s3://{self.BUCKET}/{self.KEY}",
            "credentialsSecret": self.KEYS,
            "pollInterval": f"{interval:g}s",
        }
        patch = yaml.safe_dump({"spec": {"dataset": dataset}})
        self.cluster.kubectl(
            "-n", self.namespace, "patch", "modelpipeline", NAME, "--type=merge", "-p", patch
        )
        if await watch.wait(f"{DATA}={first}", limit=120) is None:
            raise SystemExit("no Job for the dataset in S3 within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s poll interval, 10 samples")
    parser.add_argument("--samples", type=int, default=None, help="changes per figure")
    parser.add_argument("--cluster", default="bench-sources", help="local cluster to use")
    args = parser.parse_args()
    interval = 1.0 if args.quick else 5.0
    samples = args.samples or (10 if args.quick else 30)
    already = Cluster.at(args.cluster).running()
    cluster = Cluster.up(args.cluster, log=lambda _m: None)
    namespace = f"bench-detection-{uuid.uuid4().hex[:5]}"
    try:
        cluster.kubectl("apply", "-f", str(CRD))
        cluster.kubectl("wait", "--for=condition=Established", "crd/modelpipelines.modelpipe.io")
        cluster.kubectl("create", "namespace", namespace)
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(
                measure(cluster, namespace, interval=interval, samples=samples, tmp=Path(tmp))
            )
    finally:
        if already:
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        else:
            cluster.down(quiet=True)


if __name__ == "__main__":
    main()
