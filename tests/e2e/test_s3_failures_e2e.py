"""Issue 10's failures of the model store on the local cluster (spec.artifacts.s3).

* A trainer killed in the middle of its upload: the relay between the pod and the S3
  server holds the PUT of manifest.json, so the model's files are in the bucket and its
  manifest is not when upload-model is killed (SIGKILL, as tests/e2e/test_crash_e2e.py
  kills train). The run fails, is never promoted, and nothing serves the partial upload.
* The store unreachable while serving pods download: fetch-model cannot reach the server,
  the rollout misses its deadline and is rolled back while production's pods keep
  answering; once the server is back, the next run is promoted.

Real pieces only: the apiserver, the operator as its console script, versitygw on
127.0.0.1 (tests/objectstore) relayed to the node's pods (localkube.reach), the trainer
in real pods.
"""

from __future__ import annotations

import os
import signal

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    condition,
    new_run,
    predict,
    promoted,
    runs,
    serving_version,
    settled,
    trainer_pid,
)
from tests.e2e.test_s3_model_e2e import held, run_of
from tests.objectstore.cluster import MODEL_PREFIX as PREFIX
from tests.objectstore.cluster import no_key_shown, s3_documents
from tests.objectstore.server import S3Server
from tests.objectstore.stall import holding

from localkube.reach import exposed
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]


def test_a_trainer_killed_mid_upload_is_never_promoted_and_its_files_never_serve(
    ns: Namespace,
    operator: Operator,
    data_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    s3 = s3_server.client()
    with (
        holding(s3_server.local_endpoint, method=b"PUT", marker=b"/manifest.json") as hold,
        exposed(ns.cluster, hold.url) as endpoint,
    ):
        documents = s3_documents(data_url, s3_server, s3_bucket, endpoint=endpoint)
        assert ns.apply(*documents).returncode == 0
        first = promoted(ns, timeout=420)

        hold.armed.set()
        ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
        version = new_run(ns, besides=first)
        wait_for("upload-model to send manifest.json", hold.held.is_set, timeout=420)
        pid = wait_for("upload-model's process", lambda: trainer_pid(version, "upload-model"))
        os.kill(pid, signal.SIGKILL)
        pipeline = settled(ns, "TrainingFailed", timeout=180)

    last = pipeline["status"]["lastRun"]
    assert last["modelVersion"] == version
    assert "model upload failed" in last["message"] and "exit code 137" in last["message"]
    assert "never served" in last["message"]
    assert condition(pipeline, "Training") == ("False", "TrainingFailed")
    # The partial upload is in the bucket, under the run's own prefix, without its manifest.
    base = f"{PREFIX}/{ns.name}/iris/{version}/"
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix=base)["Contents"]]
    assert any(k.endswith("/model.skops") for k in stored)
    assert not any(k.endswith("/manifest.json") for k in stored)
    # Never promoted, never served, never a champion: production answers as before.
    assert serving_version(pipeline) == first
    assert all(r["modelVersion"] != version or r["verdict"] != "Promoted" for r in runs(pipeline))
    answer = predict(ns)
    assert answer is not None and answer["model_version"] == first
    serving = ns.items("pods", "app.kubernetes.io/component=serving")
    uris = [e.get("value", "") for p in serving for c in p["spec"].get("initContainers", [])
            for e in c.get("env", [])]  # fmt: skip
    assert uris and not any(base in u for u in uris)
    # A pin cannot bring it back: a run without metrics is no candidate.
    ns.patch("iris", {"spec": {"serving": {"pinnedVersion": version}}})
    wait_for(
        "the pin to be reconciled",
        lambda: (
            ns.pipeline()["status"]["observedGeneration"] == ns.pipeline()["metadata"]["generation"]
        ),
    )
    assert serving_version(ns.pipeline()) == first
    no_key_shown(ns, operator, s3_server)


def test_the_store_unreachable_while_serving_pods_download_holds_production_then_recovers(
    ns: Namespace,
    operator: Operator,
    data_url: str,
    s3_outage_server: S3Server,
) -> None:
    server = s3_outage_server
    bucket = server.bucket("outage", versioned=True)
    with exposed(ns.cluster, server.endpoint) as endpoint:
        documents = s3_documents(data_url, server, bucket, endpoint=endpoint, deadline=40)
        assert ns.apply(*documents).returncode == 0
        first = promoted(ns, timeout=420)

        # A candidate trained and uploaded whole, held by a pin until the store is down.
        ns.patch("iris", {"spec": {"serving": {"pinnedVersion": first}}})
        ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
        candidate = held(ns, besides={first})["modelVersion"]
        server.stop()
        ns.patch("iris", {"spec": {"serving": {"pinnedVersion": None}}})

        def rolled_back() -> bool:
            assert serving_version(ns.pipeline()) == first
            run = run_of(ns, candidate)
            return run["verdict"] == "RolledBack" and "fetch-model" in run["message"]

        wait_for("the rollout without its store to roll back", rolled_back, timeout=420)
        answer = predict(ns)
        assert answer is not None and answer["model_version"] == first

        server.start()
        ns.kubectl("annotate", "--overwrite", "modelpipeline", "iris", "modelpipe.io/retrain=back")
        recovered = promoted(ns, besides=first, timeout=420)
        assert recovered not in (first, candidate)
        no_key_shown(ns, operator, server)
