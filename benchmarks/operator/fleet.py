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
from pathlib import Path
from typing import Any

from benchmarks.kubeapi import KubeApi
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.harness import example_documents

from localkube.cluster import Cluster

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


def pvc() -> Json:
    return dict(example_documents(data_url="http://127.0.0.1:9")[0])


def pipeline(name: str, revision: str) -> Json:
    """A ModelPipeline whose every run ends in its code test, in well under a second."""
    document: Json = example_documents(data_url="http://127.0.0.1:9", name=name)[1]
    spec = document["spec"]
    spec["code"] = {"revision": revision, "test": {"command": ["sh", "-c", "exit 1"]}}
    spec["dataset"]["version"] = "v1"
    spec["historyLimit"] = 3
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


def write_counts(cluster: Cluster) -> Counter[str]:
    """apiserver_request_total of write verbs, by ``group/resource[/subresource] VERB``."""
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name != "apiserver_request_total" or labels.get("verb") not in WRITE_VERBS:
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
