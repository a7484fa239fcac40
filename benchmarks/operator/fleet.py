"""Pieces of the operator benchmark: cheap pipelines, a Job watch, apiserver write counts, RSS.

The pipelines are the iris example with a code test that exits 1 at once: every run
is one short pod (``sh -c 'exit 1'``), no trainer, no data download, so the figures
are about the operator, not about training. Their inputs are pinned (revision and
dataset version), so nothing is polled while idle.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.kubeapi import KubeApi
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.harness import CRD, Operator, example_documents

from localkube.cluster import Cluster
from localkube.waiting import wait_for

Json = dict[str, Any]
CODE_REVISION = "modelpipe.io/code-revision"
PIPELINE_LABEL = "modelpipe.io/pipeline"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"})
# What only the operator writes (controllers write the status subresources of Jobs and
# Deployments, never the objects), and the reporting component of its Events.
OPERATOR_RESOURCES = frozenset(
    {
        "modelpipe.io/modelpipelines",
        "modelpipe.io/modelpipelines/status",
        "batch/jobs",
        "apps/deployments",
        "core/services",
    }
)
OPERATOR_COMPONENT = "modelpipe.io/modelpipe-operator"


def cluster_with_crd(name: str) -> tuple[Cluster, bool]:
    """The local cluster ``name`` (started if need be) with the CRD established; whether
    it was running already (then keep it)."""
    already = Cluster.at(name).running()
    cluster = Cluster.up(name, log=lambda _m: None)
    cluster.kubectl("apply", "-f", str(CRD))
    wait_for("the CRD", lambda: _established(cluster), timeout=60)
    return cluster, already


def _established(cluster: Cluster) -> bool:
    crd = "crd/modelpipelines.modelpipe.io"  # just applied: the first wait may not find it
    done = cluster.kubectl("wait", "--for=condition=Established", crd, check=False)
    return done.returncode == 0


def pvc() -> Json:
    return dict(example_documents(data_url="http://127.0.0.1:9")[0])


def pipeline(name: str, revision: str) -> Json:
    """A ModelPipeline whose every run ends in its code test, in well under a second."""
    document: Json = example_documents(data_url="http://127.0.0.1:9", name=name)[1]
    spec = document["spec"]
    spec["code"] = {"revision": revision, "test": {"command": ["sh", "-c", "exit 1"]}}
    spec["dataset"]["version"] = "v1"
    spec["historyLimit"] = 3
    # The first runs of 1,000 pipelines at once queue on one node: with the example's 600 s,
    # pods that waited that long ended TrainingFailed (DeadlineExceeded) before they ran.
    spec["training"]["activeDeadlineSeconds"] = 3600
    return document


def floor_job(name: str) -> Json:
    """A suspended Job: created and watched like the operator's, but no pod ever runs."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"bench": "floor"}},
        "spec": {
            "suspend": True,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "none", "command": ["true"]}],
                }
            },
        },
    }


class JobWatch:
    """When each Job was first seen: by name, and by (pipeline, code revision)."""

    def __init__(self) -> None:
        self.by_name: dict[str, float] = {}
        self.by_input: dict[tuple[str, str], float] = {}

    async def run(self, api: KubeApi, namespace: str) -> None:
        path, version = f"/apis/batch/v1/namespaces/{namespace}/jobs", ""
        for _ in range(10_000):  # bounded: the apiserver ends each watch after a few minutes
            params = {"resourceVersion": version} if version else {}
            async for event in api.watch(path, params):
                meta = event.get("object", {}).get("metadata", {})
                version = meta.get("resourceVersion", version)
                if event.get("type") == "ADDED":
                    self._note(meta, time.monotonic())

    def _note(self, meta: Json, now: float) -> None:
        self.by_name.setdefault(meta["name"], now)
        pipeline = (meta.get("labels") or {}).get(PIPELINE_LABEL)
        revision = (meta.get("annotations") or {}).get(CODE_REVISION)
        if pipeline and revision:
            self.by_input.setdefault((pipeline, revision), now)

    async def wait(self, seen: dict[Any, float], key: Any, *, limit: float) -> float:
        deadline = time.monotonic() + limit
        while key not in seen:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: no Job for {key} within {limit:g}s")
            await asyncio.sleep(0.002)
        return seen[key]


def request_counts(cluster: Cluster, verbs: frozenset[str] = WRITE_VERBS) -> Counter[str]:
    """apiserver_request_total of ``verbs`` (writes), by ``group/resource[/subresource] VERB``."""
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name != "apiserver_request_total" or labels.get("verb") not in verbs:
                continue
            key = f"{labels.get('group') or 'core'}/{labels.get('resource')}"
            key += f"/{labels['subresource']}" if labels.get("subresource") else ""
            counts[f"{key} {labels['verb']}"] += int(sample.value)
    return counts


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"bench: no VmRSS for pid {pid}")


def quantiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 (inclusive method: p99 of few samples is close to the maximum)."""
    if len(values) < 2:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


@dataclass(frozen=True)
class Idle:
    seconds: float
    writes: Counter[str]  # apiserver write requests in the window, by resource
    events: Counter[str]  # Events written in the window, by reporting component
    reconciles: int  # the operator's reconcile passes in the window

    @property
    def operator_writes(self) -> int:
        """Writes only the operator makes: its kinds of objects, and Events it reports."""
        owned = sum(n for key, n in self.writes.items() if key.split()[0] in OPERATOR_RESOURCES)
        return owned + sum(
            n for key, n in self.events.items() if key.endswith(f"/{OPERATOR_COMPONENT}")
        )


def reconciles(operator: Operator) -> float:
    """The operator's reconcile passes since it started (its own counter)."""
    lines = operator.metrics().splitlines()
    return sum(float(x.split()[-1]) for x in lines if x.startswith("modelpipe_reconciles_total{"))


def report_idle(idle: Idle, *, size: int) -> None:
    per = idle.operator_writes / size / (idle.seconds / 60)
    print(
        f"  idle {idle.seconds:g}s: {per:.3f} operator writes per pipeline per minute "
        f"(target 0), {idle.reconciles} reconcile passes\n"
        f"    every apiserver write in the window, by resource: {dict(idle.writes)}; "
        f"Events by reporter: {dict(idle.events)}"
    )


def ratio_line(what: str, values: list[float], floor: tuple[float, float]) -> str:
    (p50, p99), (f50, f99) = quantiles(values), floor
    return (
        f"  {what:<34} p50 {p50 * 1000:7.1f} ms ({p50 / f50:5.1f}x floor)   "
        f"p99 {p99 * 1000:7.1f} ms ({p99 / f99:5.1f}x floor)   max {max(values) * 1000:.0f} ms"
    )
