"""Training admission handed to real Kueue, on the real node (issue 13 item 1).

Kueue v0.17.0 is built from its Go module and runs beside the control plane, webhooks
included (localkube.kueue). Each test gives its namespace a ClusterQueue with a quota of
``pods`` and a LocalQueue ``team``; the pipelines name it in ``spec.training.queueName``.
Kueue, not the operator, decides when each training Job runs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents

from localkube.cluster import Cluster
from localkube.kueue import Kueue, running
from localkube.waiting import wait_for
from modelpipe.k8s.calls import KUEUE_API_VERSION
from modelpipe.layout import KUEUE_QUEUE_LABEL, PIPELINE_LABEL

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def kueue(cluster: Cluster) -> Iterator[Kueue]:
    with running(cluster) as started:
        yield started
        print(started.logs())  # shown when a test failed


def local_queue(name: str, namespace: str, cluster_queue: str) -> dict[str, Any]:
    return {
        "apiVersion": KUEUE_API_VERSION,
        "kind": "LocalQueue",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"clusterQueue": cluster_queue},
    }


@pytest.fixture
def quota(cluster: Cluster, ns: Namespace, kueue: Kueue) -> Iterator[str]:
    """A ClusterQueue for ``ns`` alone admitting one training pod at a time; its name."""
    name = f"cq-{uuid.uuid4().hex[:6]}"
    flavor = {"apiVersion": KUEUE_API_VERSION, "kind": "ResourceFlavor", "metadata": {"name": name}}
    resources = [
        {"name": "cpu", "nominalQuota": "100"},
        {"name": "memory", "nominalQuota": "100Gi"},
        {"name": "pods", "nominalQuota": "1"},
    ]
    queue = {
        "apiVersion": KUEUE_API_VERSION,
        "kind": "ClusterQueue",
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.name}},
            "resourceGroups": [
                {
                    "coveredResources": ["cpu", "memory", "pods"],
                    "flavors": [{"name": name, "resources": resources}],
                }
            ],
        },
    }
    objects = {"apiVersion": "v1", "kind": "List", "items": [flavor, queue]}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(objects))
    yield name
    ns.kubectl("delete", "jobs", "-l", PIPELINE_LABEL, "--wait=true", check=False)
    for kind in ("clusterqueue", "resourceflavor"):
        cluster.kubectl("delete", kind, name, "--wait=false", check=False)


def training_jobs(ns: Namespace) -> list[dict[str, Any]]:
    return [
        job
        for job in ns.items("jobs", PIPELINE_LABEL)
        if job["metadata"]["labels"].get("modelpipe.io/model-version")
    ]


def production(ns: Namespace, name: str) -> str | None:
    found = ns.get("modelpipeline", name) or {}
    return ((found.get("status") or {}).get("production") or {}).get("modelVersion")


def promotion_of(ns: Namespace, name: str) -> Callable[[], str | None]:
    return lambda: production(ns, name)


def test_a_pipeline_trains_through_kueue_and_is_promoted(
    ns: Namespace, operator: Operator, data_url: str, quota: str
) -> None:
    assert ns.apply(local_queue("team", ns.name, quota)).returncode == 0
    docs = example_documents(data_url=data_url, training={"queueName": "team"})
    assert ns.apply(*docs).returncode == 0
    version = wait_for("the model to be promoted", lambda: production(ns, "iris"), timeout=240)
    (job,) = training_jobs(ns)
    assert job["metadata"]["name"] == f"iris-{version}"
    assert job["metadata"]["labels"][KUEUE_QUEUE_LABEL] == "team"
    assert job["spec"]["suspend"] is False  # unsuspended by Kueue, not by the operator
    uid = job["metadata"]["uid"]
    (workload,) = [
        w
        for w in ns.items("workloads.kueue.x-k8s.io")
        if w["metadata"]["ownerReferences"][0]["uid"] == uid
    ]
    assert workload["status"]["admission"]["clusterQueue"] == quota
    assert condition(ns.pipeline(), "Ready") == ("True", "Serving")


def test_with_a_quota_of_one_pod_kueue_runs_two_pipelines_jobs_one_after_the_other(
    ns: Namespace, operator: Operator, data_url: str, quota: str
) -> None:
    assert ns.apply(local_queue("team", ns.name, quota)).returncode == 0
    for name in ("first", "second"):
        docs = example_documents(data_url=data_url, name=name, training={"queueName": "team"})
        assert ns.apply(*docs).returncode == 0

    def one_held() -> dict[str, Any] | None:
        jobs = training_jobs(ns)
        held = [j for j in jobs if j["spec"].get("suspend")]
        return held[0] if len(jobs) == 2 and len(held) == 1 else None

    held = wait_for("Kueue to admit one Job and hold the other", one_held, timeout=120)
    waiting = held["metadata"]["labels"][PIPELINE_LABEL]

    def told_queued() -> dict[str, Any] | None:
        status = (ns.get("modelpipeline", waiting) or {}).get("status") or {}
        return status if (status.get("currentRun") or {}).get("phase") == "Queued" else None

    status = wait_for(f"{waiting} to say it waits for Kueue", told_queued, timeout=60)
    training = next(c for c in status["conditions"] if c["type"] == "Training")
    assert training["reason"] == "Queued" and "LocalQueue team" in training["message"]
    assert ns.events("Queued")
    for name in ("first", "second"):
        wait_for(f"{name} to be promoted", promotion_of(ns, name), timeout=300)
    jobs = sorted(training_jobs(ns), key=lambda j: j["status"]["startTime"])
    assert len(jobs) == 2
    # Kueue admitted the second only once the first had finished and freed the quota.
    assert jobs[0]["status"]["completionTime"] <= jobs[1]["status"]["startTime"]


def test_a_missing_local_queue_starts_no_job_until_it_exists(
    ns: Namespace, operator: Operator, data_url: str, quota: str
) -> None:
    docs = example_documents(data_url=data_url, training={"queueName": "team"})
    assert ns.apply(*docs).returncode == 0

    def not_found() -> tuple[str, str] | None:
        found = condition(ns.pipeline(), "Ready")
        return found if found == ("False", "QueueNotFound") else None

    wait_for("Ready=False QueueNotFound", not_found, timeout=60)
    training = next(c for c in ns.pipeline()["status"]["conditions"] if c["type"] == "Training")
    assert training["reason"] == "QueueNotFound"
    assert f"LocalQueue team not found in namespace {ns.name}" in training["message"]
    assert len(ns.events("QueueNotFound")) == 1
    assert training_jobs(ns) == []
    # The LocalQueue appears: the next look (every 30 s) hands the run to Kueue.
    assert ns.apply(local_queue("team", ns.name, quota)).returncode == 0
    wait_for("the model to be promoted", lambda: production(ns, "iris"), timeout=300)
    (job,) = training_jobs(ns)
    assert job["metadata"]["labels"][KUEUE_QUEUE_LABEL] == "team"
