"""Record the fixtures beside this file from a real apiserver (not a test; run by hand).

    LOCALKUBE_NAME=edges uv run localkube up --name edges
    uv run python -m tests.operator.recorded.record .localkube/edges/kubeconfig
    uv run localkube down --name edges

It creates, in namespace ``recorded``: a ModelPipeline, three of its training Jobs
(finished with a trainer result, failed without one, still running), a Job of the same
label owned by something else, the serving Deployment and Service, the artifacts PVC
and an opted-in ServiceAccount; waits until the controllers have settled them; then
records the operator's own requests and the answers: ``observe`` before and after a
status write, two status patches, and the answers that map to None or ApiError.
"""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from modelpipe_contract.result import Outcome, TrainerResult
from tests.operator.builders import desired_version, spec, spec_dict
from tests.operator.recorded.exchanges import Recording, save

from modelpipe.api.v1alpha1 import API_VERSION, KIND, PLURAL, ModelPipelineStatus
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.execute import status_patch
from modelpipe.k8s.gather import observe
from modelpipe.k8s.rest import ApiError, Rest, connect
from modelpipe.layout import (
    MODEL_VERSION_ANNOTATION,
    MODEL_VERSION_LABEL,
    PIPELINE_ANNOTATION,
    PIPELINE_LABEL,
    job_name,
)
from modelpipe.planning import plan
from modelpipe.planning.accounts import PIPELINES_ANNOTATION

NS, NAME = "recorded", "iris"
SPEC = spec_dict(training={"serviceAccountName": "trainer"})
# The Job of the version the spec asks for finished, so the first plan judges it.
DONE = desired_version(spec(training={"serviceAccountName": "trainer"}))
FAILED, RUNNING, FOREIGN = "1b2c3d4e", "2c3d4e5f", "3d4e5f60"
RESULT = TrainerResult(
    outcome=Outcome.SUCCEEDED, metrics={"accuracy": 0.93}, data_hash="d" * 64
).to_message()
ROOT = Path(__file__).resolve().parents[3]


def _create(rest: Rest, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return rest.request("POST", path, body=body) or {}
    except ApiError as error:
        if error.status != 409:
            raise
        return rest.request("GET", f"{path}/{body['metadata']['name']}") or {}


def _owner(uid: str, name: str = NAME, kind: str = KIND, api: str = API_VERSION) -> dict[str, Any]:
    ref = {"apiVersion": api, "kind": kind, "name": name, "uid": uid}
    return {**ref, "controller": True, "blockOwnerDeletion": True}


def _container(name: str, code: str) -> dict[str, Any]:
    return {"name": name, "image": "modelpipe-trainer:local", "command": ["python", "-c", code]}


def _job(version: str, code: str, owner: dict[str, Any]) -> dict[str, Any]:
    labels = {PIPELINE_LABEL: NAME, MODEL_VERSION_LABEL: version}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(pipeline=NAME, version=version),
            "labels": labels,
            "ownerReferences": [owner],
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [_container("train", code)]},
            },
        },
    }


def _world(rest: Rest) -> None:
    crd = yaml.safe_load((ROOT / "crds" / "modelpipe.io_modelpipelines.yaml").read_text())
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    found = _create(rest, crds, crd)  # the current CRD, also on a cluster that had an older one
    crd["metadata"]["resourceVersion"] = found["metadata"]["resourceVersion"]
    rest.request("PUT", f"{crds}/{crd['metadata']['name']}", body=crd)
    _create(rest, "/api/v1/namespaces", {"metadata": {"name": NS}})
    time.sleep(2)  # the CRD's Established condition
    account = _create(
        rest,
        f"/api/v1/namespaces/{NS}/serviceaccounts",
        {"metadata": {"name": "trainer", "annotations": {PIPELINES_ANNOTATION: NAME}}},
    )
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": NAME}, "spec": SPEC}
    pipeline = _create(rest, f"/apis/{API_VERSION}/namespaces/{NS}/{PLURAL}", body)
    owner = _owner(pipeline["metadata"]["uid"])
    write = f"open('/dev/termination-log', 'w').write({RESULT!r})"
    jobs = f"/apis/batch/v1/namespaces/{NS}/jobs"
    _create(rest, jobs, _job(DONE, write, owner))
    crash = "import sys; print('Traceback: boom'); sys.exit(3)"
    _create(rest, jobs, _job(FAILED, crash, owner))
    _create(rest, jobs, _job(RUNNING, "import time; time.sleep(3600)", owner))
    other = _owner(account["metadata"]["uid"], "trainer", "ServiceAccount", "v1")
    _create(rest, jobs, _job(FOREIGN, "pass", {**other, "controller": False}))
    claim = {
        "metadata": {"name": "models"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}},
    }
    _create(rest, f"/api/v1/namespaces/{NS}/persistentvolumeclaims", claim)
    selector = {"app": NAME}
    deployment = {
        "metadata": {
            "name": NAME,
            "annotations": {PIPELINE_ANNOTATION: NAME},
            "ownerReferences": [owner],
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector, "annotations": {MODEL_VERSION_ANNOTATION: DONE}},
                "spec": {"containers": [_container("serve", "import time; time.sleep(3600)")]},
            },
        },
    }
    _create(rest, f"/apis/apps/v1/namespaces/{NS}/deployments", deployment)
    service = {
        "metadata": {"name": NAME, "ownerReferences": [owner]},
        "spec": {"selector": selector, "ports": [{"port": 8080}]},
    }
    _create(rest, f"/api/v1/namespaces/{NS}/services", service)


def _settled(rest: Rest) -> bool:
    def conditions(version: str) -> set[str]:
        path = f"/apis/batch/v1/namespaces/{NS}/jobs/{job_name(pipeline=NAME, version=version)}"
        job = rest.request("GET", path) or {}
        found = (job.get("status") or {}).get("conditions") or []
        return {c["type"] for c in found if c.get("status") == "True"}

    running = rest.list_items(
        f"/api/v1/namespaces/{NS}/pods", selector=f"{MODEL_VERSION_LABEL}={RUNNING}"
    )
    deployment = rest.request("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}") or {}
    return (
        "Complete" in conditions(DONE)
        and "Failed" in conditions(FAILED)
        and any((p.get("status") or {}).get("phase") == "Running" for p in running)
        and (deployment.get("status") or {}).get("readyReplicas") == 1
    )


def _observe(rest: Rest, name: str) -> Any:
    recording = Recording(rest._client)
    observed = observe(KubeApi(recording), namespace=NS, name=NAME)
    world = {"namespace": NS, "name": NAME, "done": DONE, "failed": FAILED, "running": RUNNING}
    save(name, recording.exchanges, world={**world, "foreign": FOREIGN})
    return observed


def _patch(rest: Rest, before: ModelPipelineStatus, after: ModelPipelineStatus) -> dict[str, Any]:
    recording = Recording(rest._client)
    KubeApi(recording).patch_pipeline_status(NS, NAME, status_patch(before, after))
    return {
        "before": before.model_dump(mode="json", by_alias=True, exclude_none=True),
        "after": after.model_dump(mode="json", by_alias=True, exclude_none=True),
        "exchanges": recording.exchanges,
    }


def _errors(rest: Rest) -> None:
    recording = Recording(rest._client)
    api = KubeApi(recording)
    api.get_deployment(NS, "absent")
    api.delete_job(NS, "absent")
    jobs = f"/apis/batch/v1/namespaces/{NS}/jobs"
    api.create_job(
        NS, _job(DONE, "pass", {}) | {"metadata": {"name": job_name(pipeline=NAME, version=DONE)}}
    )
    with contextlib.suppress(ApiError):
        api.create_job(
            NS, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "Bad_Name"}}
        )
    with contextlib.suppress(ApiError):
        recording.list_items(jobs, selector="a in (b")
    save("errors", recording.exchanges)


def _fresh_namespace(rest: Rest) -> None:
    rest.request("DELETE", f"/api/v1/namespaces/{NS}")
    for _ in range(120):
        if rest.request("GET", f"/api/v1/namespaces/{NS}") is None:
            return
        time.sleep(1)
    raise SystemExit(f"namespace {NS} was not deleted in 120 s")


def main(kubeconfig: str) -> None:
    rest = Rest(connect(Path(kubeconfig)))
    _fresh_namespace(rest)
    _world(rest)
    for _ in range(120):
        if _settled(rest):
            break
        time.sleep(1)
    else:
        raise SystemExit("the Jobs and the Deployment did not settle in 120 s")
    now = datetime.now(UTC)
    fresh = _observe(rest, "observe_fresh")
    first = _patch(rest, fresh.status, plan(fresh, now).status)
    judged = _observe(rest, "observe_judged")
    # Removes a field (null in the patch), replaces a list whole, changes a nested value.
    later = judged.status.model_copy(
        update={
            "production": None,
            "observed_generation": 2,
            "conditions": judged.status.conditions[:2],
        }
    )
    second = _patch(rest, judged.status, later)
    save("status_patch", [], cases=[first, second])
    _errors(rest)


if __name__ == "__main__":
    main(sys.argv[1])
