"""Issue 10 item 4 on the local cluster: models kept in S3 (spec.artifacts.s3), not on a PVC.

Real pieces only: the apiserver, the operator as its console script, a real S3 server
(versitygw on 127.0.0.1, tests/objectstore, relayed to the node's pods) and the trainer
in real pods. The training pod's upload-model container uploads the model under the Job's
own prefix, manifest.json last; the serving pods' fetch-model init container downloads
and verifies it before the server starts, and the next training pod's fetch-champion
downloads production's model to compare against. A model object changed after upload, and an
upload without its manifest, fail the serving rollout: production keeps answering. No key
is ever shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    example_documents,
    predict,
    promoted,
    runs,
    serving_version,
)
from tests.objectstore.cluster import MODEL_PREFIX as PREFIX
from tests.objectstore.cluster import s3_documents, shown
from tests.objectstore.server import S3Server

from localkube.reach import exposed
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture
def s3_endpoint(ns: Namespace, s3_server: S3Server) -> Iterator[str]:
    """The S3 server's URL as the node's pods reach it (localkube.reach)."""
    with exposed(ns.cluster, s3_server.endpoint) as url:
        yield url


def key_holders(pod: dict[str, Any]) -> list[str]:
    secrets = {v["name"] for v in pod["volumes"] if (v.get("secret") or {}).get("secretName")}
    return [
        c["name"]
        for c in [*pod.get("initContainers", []), *pod["containers"]]
        if any(m["name"] in secrets for m in c.get("volumeMounts", []))
    ]


def run_of(ns: Namespace, version: str) -> dict[str, Any]:
    return next(r for r in runs(ns.pipeline()) if r["modelVersion"] == version)


def held(ns: Namespace, *, besides: set[str]) -> dict[str, Any]:
    """Wait for a new run that passed the gate and is held by the pin; that run."""

    def check() -> dict[str, Any] | None:
        found = [
            r
            for r in runs(ns.pipeline())
            if r["modelVersion"] not in besides and r["verdict"] == "Held"
        ]
        return found[0] if found else None

    return wait_for(f"a run besides {sorted(besides)} to be held", check, timeout=300)


def test_models_in_s3_are_served_verified_and_a_changed_or_unfinished_upload_never_serves(
    ns: Namespace,
    operator: Operator,
    data_url: str,
    s3_server: S3Server,
    s3_bucket: str,
    s3_endpoint: str,
) -> None:
    s3 = s3_server.client()
    documents = s3_documents(data_url, s3_server, s3_bucket, endpoint=s3_endpoint)
    assert ns.apply(*documents).returncode == 0
    zeroth = promoted(ns, timeout=420)

    # The champion is production's model, downloaded from S3 by fetch-champion and
    # compared on the same holdout: a retrain of the same data and seed scores the same.
    ns.patch("iris", {"spec": {"evaluation": {"champion": {"metric": "accuracy"}}}})
    ns.retrain("champion")
    first = promoted(ns, besides=zeroth, timeout=420)
    compared = run_of(ns, first)
    assert compared["championMetrics"]["accuracy"] == run_of(ns, zeroth)["metrics"]["accuracy"]
    trained = ns.get("job", f"iris-{first}")
    assert trained is not None
    training = trained["spec"]["template"]["spec"]
    (fetch,) = [c for c in training["initContainers"] if c["name"] == "fetch-champion"]
    env = {e["name"]: e.get("value") for e in fetch["env"]}
    assert env["MODELPIPE_MODEL_URI"] == run_of(ns, zeroth)["modelUri"]
    assert key_holders(training) == ["fetch-champion", "upload-model"]
    # Only the champion's comparison was wanted: the candidates below are judged alone.
    ns.patch("iris", {"spec": {"evaluation": {"champion": None}}})

    # Served from the run's own prefix, below the namespace, recorded in status; the keys
    # only in our containers.
    job = ns.get("job", f"iris-{first}")
    assert job is not None
    prefix = f"{PREFIX}/{ns.name}/iris/{first}/{job['metadata']['uid']}/"
    production = ns.pipeline()["status"]["production"]
    assert production["modelUri"] == f"s3://{s3_bucket}/{prefix}"
    assert run_of(ns, first)["modelUri"] == production["modelUri"]
    listed = s3.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["Contents"]
    assert {"manifest.json", "model.skops", "lineage.json"} <= {
        o["Key"].removeprefix(prefix) for o in listed
    }
    assert [c["name"] for c in training["initContainers"]][-1] == "train"
    serving = ns.items("pods", "app.kubernetes.io/component=serving")
    assert serving and all(key_holders(p["spec"]) == ["fetch-model"] for p in serving)
    assert not [v for p in serving for v in p["spec"]["volumes"] if "persistentVolumeClaim" in v]

    # Two candidates held by a pin, then spoiled in the bucket: one changed, one unfinished.
    ns.patch("iris", {"spec": {"serving": {"pinnedVersion": first}}})
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
    changed = held(ns, besides={first})
    assert changed["modelUri"].startswith(
        f"s3://{s3_bucket}/{PREFIX}/{ns.name}/iris/{changed['modelVersion']}/"
    )
    ns.retrain("unfinished")
    unfinished = held(ns, besides={first, changed["modelVersion"]})
    key_of = {
        r["modelVersion"]: r["modelUri"].removeprefix(f"s3://{s3_bucket}/")
        for r in (changed, unfinished)
    }
    s3.put_object(
        Bucket=s3_bucket, Key=key_of[changed["modelVersion"]] + "model.skops", Body=b"evil"
    )
    s3.delete_object(Bucket=s3_bucket, Key=key_of[unfinished["modelVersion"]] + "manifest.json")

    ns.patch("iris", {"spec": {"serving": {"pinnedVersion": None}}})
    seen: dict[str, str] = {}

    def both_rolled_back() -> bool:
        for version in key_of:
            run = run_of(ns, version)
            if run["verdict"] == "RolledBack" and "fetch-model" in run["message"]:
                seen[version] = run["message"]
            assert serving_version(ns.pipeline()) == first
        return len(seen) == len(key_of)

    wait_for("both spoiled models to be rolled back", both_rolled_back, timeout=420)
    answer = wait_for(
        "production to answer", lambda: (a := predict(ns)) and a["model_version"] == first and a
    )
    assert answer["model_version"] == first
    everything = shown(ns, operator)
    assert s3_server.secret_key not in everything and s3_server.access_key not in everything


def test_a_switch_from_a_pvc_keeps_production_serving_until_a_model_in_s3_is_promoted(
    ns: Namespace,
    operator: Operator,
    data_url: str,
    s3_server: S3Server,
    s3_bucket: str,
    s3_endpoint: str,
) -> None:
    """docs/operator.md, "Switching where models live": production's model stays on the
    PVC, its pods untouched, until the first model trained into the bucket is promoted."""
    claim, on_pvc = example_documents(data_url=data_url)
    on_pvc["spec"]["evaluation"]["champion"] = {"metric": "accuracy"}
    assert ns.apply(claim, on_pvc).returncode == 0
    zeroth = promoted(ns, timeout=420)
    before = ns.get("deployment", "iris")
    assert before is not None

    keys, in_s3 = s3_documents(data_url, s3_server, s3_bucket, endpoint=s3_endpoint)
    assert ns.apply(keys).returncode == 0
    ns.patch("iris", {"spec": {"artifacts": {"pvc": None, **in_s3["spec"]["artifacts"]}}})
    wait_for(
        "the switch to be reconciled",
        lambda: (
            ns.pipeline()["status"]["observedGeneration"] == ns.pipeline()["metadata"]["generation"]
        ),
    )
    after = ns.get("deployment", "iris")
    assert after is not None
    assert after["spec"]["template"] == before["spec"]["template"]  # not touched
    answer = predict(ns)
    assert answer is not None and answer["model_version"] == zeroth

    ns.retrain("s3")
    first = promoted(ns, besides=zeroth, timeout=420)
    assert run_of(ns, first).get("championMetrics") is None  # the PVC's model is no champion
    production = ns.pipeline()["status"]["production"]
    assert production["modelUri"].startswith(f"s3://{s3_bucket}/{PREFIX}/{ns.name}/iris/{first}/")

    def downloaded() -> bool:
        serving = ns.items("pods", "app.kubernetes.io/component=serving")
        return bool(serving) and all(key_holders(p["spec"]) == ["fetch-model"] for p in serving)

    wait_for("only pods that download the model from S3", downloaded)
