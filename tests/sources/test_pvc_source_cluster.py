"""A dataset followed on a PVC, on the local cluster: new bytes retrain once, a missing file holds.

Real pieces only: the apiserver, the operator as its console script, the hash
Jobs and the trainer in real pods. The claim is a directory on this machine
(``Cluster.volumes_dir/<namespace>/<claim>``, the hostPath volume the kubelet mounts
into every pod using it), so the test writes and replaces the file there, as a data
team's job writing to a shared volume would.

The poll interval is 1 s and every wait is bounded.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from tests.e2e import conftest as e2e
from tests.e2e.harness import (
    Namespace,
    Operator,
    condition,
    predict,
    runs,
    serving_version,
)
from tests.sources.test_triggers_cluster import documents, lineage_of, promoted, sources_ready

from localkube.cluster import Cluster
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
crd, ns, operator = e2e.crd, e2e.ns, e2e.operator
CLAIM = "iris-data"
URI = f"pvc://{CLAIM}/iris/train.csv"
TRAINING = "modelpipe.io/pipeline=iris,!modelpipe.io/source-hash"
CHECKS = "modelpipe.io/pipeline=iris,modelpipe.io/source-hash"


def claim_file(cluster: Cluster, ns: Namespace) -> Path:
    return cluster.volumes_dir / ns.name / CLAIM / "iris" / "train.csv"


def write(path: Path, data: bytes) -> None:
    """Replace the file atomically, as a careful producer would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.chmod(0o644)
    partial.replace(path)


def data_claim() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": CLAIM},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def training_jobs(ns: Namespace) -> list[str]:
    return sorted(j["metadata"]["name"] for j in ns.items("jobs", TRAINING))


def still(ns: Namespace, jobs: list[str], *, seconds: float = 6) -> None:
    """No training Job starts for several poll intervals (hash checks keep running)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert training_jobs(ns) == jobs, f"unexpected Jobs: {training_jobs(ns)} (had {jobs})"
        time.sleep(0.5)


def dataset_row(pipeline: dict[str, Any]) -> dict[str, Any]:
    rows = [r for r in pipeline["status"].get("sources", []) if r["name"] == "dataset"]
    assert rows, f"no dataset source in status: {pipeline['status'].get('sources')}"
    return dict(rows[0])


def test_new_bytes_on_the_claim_run_once_and_a_missing_file_holds_production(
    cluster: Cluster, ns: Namespace, operator: Operator, iris_csv: dict[str, bytes]
) -> None:
    path = claim_file(cluster, ns)
    write(path, iris_csv["v1"])
    v1, v2 = (hashlib.sha256(iris_csv[n]).hexdigest() for n in ("v1", "v2"))
    dataset = {"uri": URI, "version": None, "pollInterval": "1s"}
    assert ns.apply(data_claim(), *documents("http://127.0.0.1:9", dataset=dataset)).returncode == 0

    # The first check resolves the hash; one run trains on it and is promoted.
    first = promoted(ns)
    (job0,) = training_jobs(ns)
    status = ns.pipeline()["status"]
    assert (status["inputs"]["datasetVersion"], status["inputs"]["datasetVersionFrom"]) == (
        f"sha256:{v1}",
        "Followed",
    )
    row = dataset_row(ns.pipeline())
    assert (row["kind"], row["url"], row["resolved"]) == ("pvc", URI, f"sha256:{v1}")
    check = ns.items("jobs", CHECKS)[0]
    assert check["spec"]["activeDeadlineSeconds"] > 0 and check["spec"]["backoffLimit"] == 0
    assert check["metadata"]["ownerReferences"][0]["name"] == "iris"
    assert lineage_of(cluster, ns, first)["dataset"]["sha256"] == v1
    still(ns, [job0])  # the same bytes, checked again and again: no new run

    # New rows: exactly one run, with the new hash in status and lineage.
    write(path, iris_csv["v2"])
    second = promoted(ns, besides=first)
    still(ns, training_jobs(ns))
    (job1,) = [j for j in training_jobs(ns) if j != job0]
    status = ns.pipeline()["status"]
    run = next(r for r in runs({"status": status}) if r["modelVersion"] == second)
    assert (run["datasetVersion"], run["dataHash"], run["verdict"]) == (
        f"sha256:{v2}",
        v2,
        "Promoted",
    )
    assert status["production"]["datasetVersion"] == f"sha256:{v2}"
    lineage = lineage_of(cluster, ns, second)
    assert (lineage["dataset"]["version"], lineage["dataset"]["sha256"]) == (f"sha256:{v2}", v2)
    assert lineage["dataset"]["rows"] == 150
    assert any(f"sha256:{v1} -> sha256:{v2}" in m for m in ns.events("SourceChanged"))
    assert len(ns.items("jobs", CHECKS)) <= 3, "older hash checks are cleaned up"

    # The file is gone: a condition, the last version kept, nothing runs, production serves.
    path.unlink()
    pipeline = sources_ready(ns, "False", reason="NotFound")
    assert "no such file" in json.dumps(dataset_row(pipeline))
    still(ns, [job0, job1])
    pipeline = ns.pipeline()
    assert serving_version(pipeline) == second
    assert pipeline["status"]["inputs"]["datasetVersion"] == f"sha256:{v2}"
    # Ready has one meaning (issue 11.4): the spec cannot take effect while its source
    # fails, so Ready is False/SourceFailed; the model keeps serving all the same.
    assert condition(pipeline, "Ready") == ("False", "SourceFailed")
    ready = next(c for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert f"model {second} keeps serving" in ready["message"]
    answer = predict(ns)
    assert answer is not None and answer["model_version"] == second

    # It comes back (the same bytes): the condition clears by itself, and still no run.
    write(path, iris_csv["v2"])
    sources_ready(ns, "True", reason="Resolved")
    still(ns, [job0, job1], seconds=3)
    assert wait_for(
        "Ready=True again", lambda: condition(ns.pipeline(), "Ready") == ("True", "Serving")
    )


def test_a_missing_claim_is_a_condition_and_starts_nothing(
    cluster: Cluster, ns: Namespace, operator: Operator
) -> None:
    dataset = {"uri": URI, "version": None, "pollInterval": "1s"}
    assert ns.apply(*documents("http://127.0.0.1:9", dataset=dataset)).returncode == 0
    pipeline = sources_ready(ns, "False", reason="NotFound")
    assert f"PersistentVolumeClaim '{CLAIM}' not found" in dataset_row(pipeline)["error"]
    still(ns, [], seconds=3)
    assert ns.items("jobs", CHECKS) == []
    assert wait_for("Ready=False", lambda: condition(ns.pipeline(), "Ready")) is not None
