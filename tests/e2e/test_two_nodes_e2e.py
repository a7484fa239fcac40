"""Issue 10's "serving replicas run on any node", on two real nodes (``two_nodes``:
``localkube up --nodes 2``, docs/localkube.md "More than one node").

A model in S3 (``spec.artifacts.s3``) is downloaded by each serving pod, so two replicas
spread over both nodes (``topologySpreadConstraints`` on ``kubernetes.io/hostname``)
are both Ready and both answer. A model on a ``ReadWriteOnce`` claim cannot: the claim's
volume is tied to the node that made it, so the replica the spread sends to the other
node stays Pending, and the scheduler says why on the pod ("didn't match
PersistentVolume's node affinity").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.fixtures import install_crd, served_data
from tests.e2e.harness import Namespace, Operator, answer, example_documents, promoted
from tests.objectstore.cluster import s3_documents
from tests.objectstore.server import S3Server

from localkube.cluster import Cluster
from localkube.pytest_plugin import fresh_namespace
from localkube.reach import exposed
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]
SERVING = "app.kubernetes.io/component=serving"
SPREAD = {
    "replicas": 2,
    "template": {
        "topologySpreadConstraints": [
            {"topologyKey": "kubernetes.io/hostname", "maxSkew": 1},
        ]
    },
}


@pytest.fixture(scope="module")
def two(two_nodes: Cluster) -> Cluster:
    # Reused as it is, or started again if hack/localkube/tests took it down already.
    cluster = Cluster.up(two_nodes.name, nodes=2)
    install_crd(cluster)
    return cluster


@pytest.fixture(scope="module")
def data_url(two: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_data(two, tmp_path_factory) as url:
        yield url


@pytest.fixture
def ns(two: Cluster, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    with fresh_namespace(two, request.node.name) as name:
        yield Namespace(two, name)


@pytest.fixture
def operator(ns: Namespace, tmp_path: Path) -> Iterator[Operator]:
    running = Operator(ns.cluster, ns.name, tmp_path)
    running.start()
    yield running
    running.stop()
    print(ns.kubectl("get", "modelpipelines,pods", "-o", "wide", check=False).stdout)
    print(running.logs()[-6000:])


def _ready(pod: dict[str, Any]) -> bool:
    conditions = pod["status"].get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_a_model_in_s3_serves_from_replicas_on_both_nodes(
    ns: Namespace, operator: Operator, data_url: str, s3_server: S3Server, s3_bucket: str
) -> None:
    with exposed(ns.cluster, s3_server.endpoint) as endpoint:
        keys, pipeline = s3_documents(data_url, s3_server, s3_bucket, endpoint=endpoint)
        pipeline["spec"]["serving"].update(SPREAD)
        assert ns.apply(keys, pipeline).returncode == 0
        version = promoted(ns, timeout=600)

        def spread() -> list[dict[str, Any]] | None:
            pods = [
                p for p in ns.items("pods", SERVING) if not p["metadata"].get("deletionTimestamp")
            ]
            ready = [p for p in pods if _ready(p)]
            return ready if len(ready) == 2 and len(pods) == 2 else None

        pods = wait_for("two Ready serving pods", spread, timeout=300)
        nodes = sorted(p["spec"]["nodeName"] for p in pods)
        assert nodes == sorted(layout.node_name for layout in ns.cluster.node_layouts)
        for pod in pods:  # each replica downloaded and verified the model on its own node
            assert answer(ns, pod)["model_version"] == version
            assert not [v for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v]


def test_a_model_on_a_read_write_once_claim_cannot_serve_on_the_other_node(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    claim, pipeline = example_documents(data_url=data_url)
    pipeline["spec"]["serving"].update(SPREAD)
    assert ns.apply(claim, pipeline).returncode == 0

    def stuck() -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
        pods = ns.items("pods", SERVING)
        pending = [p for p in pods if p["status"].get("phase") == "Pending" and not _ready(p)]
        unscheduled = [
            (p, c)
            for p in pending
            for c in p["status"].get("conditions", [])
            if c["type"] == "PodScheduled" and c["status"] == "False"
        ]
        return (pods, unscheduled[0][1]) if unscheduled and any(map(_ready, pods)) else None

    pods, condition = wait_for("a serving replica that cannot be scheduled", stuck, timeout=600)
    # What the user sees on the pod: the volume is tied to the other node.
    assert "didn't match PersistentVolume's node affinity" in condition["message"], condition
    ready = [p for p in pods if _ready(p)]
    assert len(ready) == 1
    volume = json.loads(ns.cluster.kubectl("get", "pv", _volume(ns), "-o", "json").stdout)
    (term,) = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term["matchExpressions"][0]["values"] == [ready[0]["spec"]["nodeName"]]


def _volume(ns: Namespace) -> str:
    claim = ns.get("pvc", "iris-models")
    assert claim is not None
    return str(claim["spec"]["volumeName"])
