"""Issue 10 on the local cluster: a dataset in S3, followed, with keys from an opted-in Secret.

Real pieces only: the apiserver, the operator as its console script, a real S3
server (versitygw on 127.0.0.1, tests/objectstore), and the trainer in real pods
whose ``fetch-data`` init container downloads the object at the version the
operator resolved. A new object version is the new data; its VersionId is the
run's dataset version. Wrong keys and an object over the size limit are conditions
and start nothing; no key ever shows in status, Events or the operator's log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.fixtures import Reachable
from tests.e2e.harness import Namespace, Operator, runs
from tests.objectstore.cluster import keys_secret, shown
from tests.objectstore.server import S3Server
from tests.sources import test_triggers_cluster as triggers
from tests.sources.test_triggers_cluster import (
    OUTAGE,
    documents,
    follow_data,
    job_annotation,
    lineage_of,
    message_of,
    promoted,
    sources_ready,
    still,
    unchanged,
)

from localkube.cluster import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]
SECRET = "s3-keys"
# The fixtures of the followed-sources tests: the CRD, a namespace, the operator, iris data.
crd, data_url, ns = triggers.crd, triggers.data_url, triggers.ns
operator = triggers.operator


@pytest.fixture(autouse=True)
def _s3_reached_from_the_node(
    request: pytest.FixtureRequest, reachable: Reachable
) -> Iterator[None]:
    """The S3 servers a test uses, as the node's pods and operator reach them."""
    names = [n for n in ("s3_server", "s3_outage_server") if n in request.fixturenames]
    servers: list[S3Server] = [request.getfixturevalue(n) for n in names]
    for server in servers:
        server.public_endpoint = reachable(server.local_endpoint)
    yield
    for server in servers:
        server.public_endpoint = None


def keys(server: S3Server, *, bucket: str, secret_key: str | None = None) -> dict[str, Any]:
    return keys_secret(SECRET, server, prefix=f"s3://{bucket}", secret_key=secret_key)


def test_new_object_version_runs_once_and_a_deleted_object_holds_production(
    ns: Namespace,
    operator: Operator,
    cluster: Cluster,
    s3_server: S3Server,
    s3_bucket: str,
    iris_csv: dict[str, bytes],
) -> None:
    s3 = s3_server.client()
    v1 = s3.put_object(Bucket=s3_bucket, Key="iris/train.csv", Body=iris_csv["v1"])["VersionId"]
    uri = f"s3://{s3_bucket}/iris/train.csv"
    spec = documents(uri, dataset=follow_data(uri, credentialsSecret=SECRET))
    assert ns.apply(keys(s3_server, bucket=s3_bucket), *spec).returncode == 0
    first = promoted(ns)
    inputs = ns.pipeline()["status"]["inputs"]
    assert (inputs["datasetVersion"], inputs["datasetVersionFrom"]) == (
        f"versionId:{v1}", "Followed",
    )  # fmt: skip
    (job0,) = ns.jobs()

    v2 = s3.put_object(Bucket=s3_bucket, Key="iris/train.csv", Body=iris_csv["v2"])["VersionId"]
    second = promoted(ns, besides=first)
    still(ns, ns.jobs())
    (job1,) = [j for j in ns.jobs() if j != job0]
    assert job_annotation(ns, job1, "dataset-version") == f"versionId:{v2}"
    digest = hashlib.sha256(iris_csv["v2"]).hexdigest()
    run = next(r for r in runs(ns.pipeline()) if r["modelVersion"] == second)
    assert (run["dataHash"], run["verdict"]) == (digest, "Promoted")
    assert lineage_of(cluster, ns, second)["dataset"]["rows"] == 150

    s3.delete_object(Bucket=s3_bucket, Key="iris/train.csv")
    gone = sources_ready(ns, "False", reason="NotFound")
    assert f"dataset ({uri}): NotFound" in message_of(gone, "SourcesReady")
    unchanged(ns, ns.jobs(), second, OUTAGE)
    seen = shown(ns, operator)
    assert s3_server.secret_key not in seen and s3_server.access_key not in seen


def test_wrong_keys_and_an_oversize_object_start_nothing(
    ns: Namespace,
    operator: Operator,
    s3_server: S3Server,
    s3_bucket: str,
    iris_csv: dict[str, bytes],
) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="iris.csv", Body=iris_csv["v1"])
    uri = f"s3://{s3_bucket}/iris.csv"
    wrong = keys(s3_server, bucket=s3_bucket, secret_key="not-the-secret-key")
    spec = documents(uri, dataset=follow_data(uri, credentialsSecret=SECRET))
    assert ns.apply(wrong, *spec).returncode == 0
    refused = sources_ready(ns, "False", reason="AuthenticationFailed")
    assert "check the keys in the dataset's credentialsSecret" in message_of(
        refused, "SourcesReady"
    )
    still(ns, [])

    big = documents(
        uri, name="big", dataset=follow_data(uri, maxBytes=100, credentialsSecret=SECRET)
    )
    assert ns.apply(keys(s3_server, bucket=s3_bucket), *big[1:]).returncode == 0
    too_large = sources_ready(ns, "False", reason="TooLarge", name="big")
    assert f"({len(iris_csv['v1'])} bytes)" in message_of(too_large, "SourcesReady")
    assert ns.jobs("big") == []
    seen = shown(ns, operator) + shown(ns, operator, "big")
    assert "not-the-secret-key" not in seen and s3_server.secret_key not in seen


def test_pinned_version_then_followed_and_an_outage_holds_production(
    ns: Namespace,
    operator: Operator,
    cluster: Cluster,
    s3_outage_server: S3Server,
    iris_csv: dict[str, bytes],
) -> None:
    server = s3_outage_server
    bucket = server.bucket("mp-outage", versioned=True)
    s3 = server.client()
    v1 = s3.put_object(Bucket=bucket, Key="iris.csv", Body=iris_csv["v1"])["VersionId"]
    s3.put_object(Bucket=bucket, Key="iris.csv", Body=iris_csv["v2"])
    uri = f"s3://{bucket}/iris.csv"
    pinned = {"uri": f"{uri}?versionId={v1}", "version": None, "credentialsSecret": SECRET}
    assert ns.apply(keys(server, bucket=bucket), *documents(uri, dataset=pinned)).returncode == 0
    first = promoted(ns)
    assert ns.pipeline()["status"]["inputs"]["datasetVersion"] == f"versionId:{v1}"
    assert lineage_of(cluster, ns, first)["dataset"]["rows"] == 120  # v1, not the newest

    followed = documents(uri, dataset=follow_data(uri, credentialsSecret=SECRET))
    assert ns.apply(*followed[1:]).returncode == 0
    second = promoted(ns, besides=first)
    assert lineage_of(cluster, ns, second)["dataset"]["rows"] == 150
    jobs = ns.jobs()

    server.stop()
    down = sources_ready(ns, "False", reason="Unreachable")
    assert f"dataset ({uri}): Unreachable" in message_of(down, "SourcesReady")
    unchanged(ns, jobs, second, OUTAGE)
    server.start()
    sources_ready(ns, "True", reason="Resolved")
    unchanged(ns, jobs, second)
