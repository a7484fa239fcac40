"""The cases of test_rbac_minimality.py: for each granted verb, a behaviour that needs it.

A Case names one verb of one rule and how to make the operator use it: ``drive`` runs
while the Role lacks the verb, ``check`` asserts what must not have happened meanwhile,
and ``heal`` undoes the case once the verb is back. PREPARE starts what a case needs
before its verb is removed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.packaging.rbac_rig import Rig

from localkube.waiting import wait_for


# --- the behaviours ------------------------------------------------------------------------
def restart(rig: Rig) -> None:
    rig.grant_namespace_listing()
    rig.restart_operator()


def poke(rig: Rig) -> None:
    rig.poke()


def bump_generation(rig: Rig) -> None:
    limit = 9 if (rig.get("modelpipeline", "iris") or {})["spec"]["historyLimit"] == 10 else 10
    rig.kubectl("patch", "modelpipeline", "iris", "--type=merge", "-p",
                json.dumps({"spec": {"historyLimit": limit}}))  # fmt: skip


def observed_generation_lags(rig: Rig) -> None:
    pipeline = rig.get("modelpipeline", "iris") or {}
    assert pipeline["status"]["observedGeneration"] < pipeline["metadata"]["generation"]


def observed_generation_catches_up(rig: Rig) -> None:
    rig.poke()

    def current() -> bool:
        pipeline = rig.get("modelpipeline", "iris") or {}
        return bool(pipeline["status"]["observedGeneration"] == pipeline["metadata"]["generation"])

    wait_for("the status to catch up once status patches are allowed again", current)


def throwaway(name: str) -> Callable[[Rig], None]:
    def drive(rig: Rig) -> None:
        rig.apply(rig.pipeline_doc(name))

    return drive


def delete_throwaway(name: str) -> Callable[[Rig], None]:
    def heal(rig: Rig) -> None:
        rig.kubectl("delete", "modelpipeline", name, "--wait=true")

    return heal


def no_job_for(name: str) -> Callable[[Rig], None]:
    def check(rig: Rig) -> None:
        jobs = rig.kubectl("get", "jobs", "-l", f"modelpipe.io/pipeline={name}", "-o", "name")
        assert jobs.strip() == ""

    return check


def no_verdict_for(name: str) -> Callable[[Rig], None]:
    def check(rig: Rig) -> None:
        verdict = (rig.status(name).get("lastRun") or {}).get("verdict")
        assert verdict in (None, "Running"), f"the run was judged without its result: {verdict}"

    return check


def throwaway_training(name: str, **training: str) -> Callable[[Rig], None]:
    """A pipeline with these spec.training fields, e.g. serviceAccountName or queueName."""

    def drive(rig: Rig) -> None:
        doc = rig.pipeline_doc(name)
        doc["spec"]["training"].update(training)
        rig.apply(doc)

    return drive


def supersede_running_job(rig: Rig) -> None:
    """Started before the verb is removed: a run, then new inputs while it still trains."""
    dataset = {"uri": f"{rig.data_url}/v2.csv", "version": "v2"}
    patch = json.dumps({"spec": {"dataset": dataset}})
    rig.kubectl("patch", "modelpipeline", "supersede", "--type=merge", "-p", patch)


def start_supersede(rig: Rig) -> None:
    rig.apply(rig.pipeline_doc("supersede"))
    wait_for("the first Job of pipeline supersede", lambda: has_jobs(rig, "supersede"), timeout=60)


def has_jobs(rig: Rig, name: str) -> bool:
    jobs = rig.kubectl("get", "jobs", "-l", f"modelpipe.io/pipeline={name}", "-o", "name")
    return bool(jobs.strip())


def retrain_iris(rig: Rig) -> None:
    rig.before = rig.serving("iris")
    rig.kubectl("annotate", "modelpipeline", "iris", "--overwrite",
                f"modelpipe.io/retrain={uuid.uuid4().hex[:8]}")  # fmt: skip


def production_unchanged(rig: Rig) -> None:
    assert (rig.status("iris").get("production") or {}).get("modelVersion") == rig.before


def promotion_completes(rig: Rig) -> None:
    rig.poke()
    wait_for(
        "the held promotion to complete once patches are allowed again",
        lambda: rig.serving("iris") not in (None, rig.before),
        timeout=180,
    )


def follow_with_credentials(rig: Rig) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git-creds"},
              "stringData": {"token": "not-a-real-token"}}  # fmt: skip
    git = {"url": "https://127.0.0.1:9/models.git", "ref": "main",
           "credentialsSecret": "git-creds", "pollInterval": "1h"}  # fmt: skip
    doc = rig.pipeline_doc("follow")
    doc["spec"]["code"] = {"git": git}
    rig.apply(secret, doc)


def delete_follow(rig: Rig) -> None:
    rig.kubectl("delete", "modelpipeline", "follow", "--wait=true")
    rig.kubectl("delete", "secret", "git-creds")


def scaled_doc(rig: Rig, name: str, *, max_replicas: int | None = 2) -> dict[str, Any]:
    """A pipeline whose serving pods ask for CPU; with ``max_replicas``, autoscaled."""
    doc = rig.pipeline_doc(name)
    serving = doc["spec"]["serving"]
    serving["template"] = {**(serving.get("template") or {}),
                           "resources": {"requests": {"cpu": "50m"}}}  # fmt: skip
    if max_replicas is not None:
        serving["autoscaling"] = {"maxReplicas": max_replicas, "targetCPUUtilizationPercentage": 80}
    return doc


def scaled(name: str) -> Callable[[Rig], None]:
    def drive(rig: Rig) -> None:
        rig.apply(scaled_doc(rig, name))

    return drive


def start_scaled(rig: Rig) -> None:
    """Before the verb is removed: pipeline "scaled" serves and its autoscaler exists."""
    rig.apply(scaled_doc(rig, "scaled"))
    wait_for(
        "the autoscaler of pipeline scaled",
        lambda: rig.get("horizontalpodautoscaler", "scaled"),
        timeout=300,
    )


def rescale(rig: Rig) -> None:
    rig.apply(scaled_doc(rig, "scaled", max_replicas=3))


def unscale(rig: Rig) -> None:
    rig.apply(scaled_doc(rig, "scaled", max_replicas=None))


@dataclass(frozen=True)
class Case:
    group: str
    resource: str
    verb: str
    behaviour: str
    drive: Callable[[Rig], None]
    heal: Callable[[Rig], None] | None = None
    check: Callable[[Rig], None] | None = None
    timeout: float = 90

    @property
    def id(self) -> str:
        return f"{self.verb}-{self.resource.replace('/', '-')}"


CASES = [
    Case("modelpipe.io", "modelpipelines", "get",
         "a reconcile reads its pipeline afresh (KubeApi.get_pipeline)", poke),
    Case("modelpipe.io", "modelpipelines/status", "patch",
         "a reconcile records status and observedGeneration (KubeApi.patch_pipeline_status)",
         bump_generation, heal=observed_generation_catches_up, check=observed_generation_lags),
    Case("batch", "jobs", "list",
         "a reconcile finds its training Jobs (KubeApi.list_jobs)", poke),
    Case("batch", "jobs", "create",
         "a new pipeline starts its training Job (KubeApi.create_job)", throwaway("mk-job"),
         heal=delete_throwaway("mk-job"), check=no_job_for("mk-job")),
    Case("batch", "jobs", "delete",
         "new inputs stop the superseded run (KubeApi.delete_job)", supersede_running_job,
         heal=delete_throwaway("supersede")),
    Case("", "pods", "list",
         "a finished Job's result is read from its pod (KubeApi.list_job_pods)",
         throwaway("pods"), heal=delete_throwaway("pods"), check=no_verdict_for("pods"),
         timeout=150),
    Case("", "configmaps", "create",
         "a run's config is created before its Job (KubeApi.create_config_map)",
         throwaway("mk-config"), heal=delete_throwaway("mk-config"),
         check=no_job_for("mk-config")),
    Case("", "configmaps", "patch",
         "a new Job becomes its run config's owner (KubeApi.patch_config_map)",
         throwaway("own-config"), heal=delete_throwaway("own-config")),
    Case("", "serviceaccounts", "get",
         "a run's serviceAccountName is checked before its Job (KubeApi.get_service_account)",
         throwaway_training("account", serviceAccountName="default"),
         heal=delete_throwaway("account"), check=no_job_for("account")),
    Case("kueue.x-k8s.io", "localqueues", "get",
         "a pipeline with spec.training.queueName checks its LocalQueue before a Job "
         "(KubeApi.get_local_queue; no LocalQueue team: QueueNotFound)",
         throwaway_training("kueue", queueName="team"),
         heal=delete_throwaway("kueue"), check=no_job_for("kueue")),
    Case("", "events", "create",
         "decisions are posted as Events, e.g. JobCreated (KubeApi.create_event)",
         throwaway("events"), heal=delete_throwaway("events")),
    Case("apps", "deployments", "create",
         "the first promotion creates the serving Deployment (KubeApi.create_deployment)",
         throwaway("deploy"), heal=delete_throwaway("deploy"), timeout=150),
    Case("", "services", "create",
         "the first promotion creates the Service (KubeApi.create_service)",
         throwaway("svc"), heal=delete_throwaway("svc"), timeout=150),
    Case("apps", "deployments", "patch",
         "a better model is promoted into the serving Deployment (KubeApi.patch_deployment)",
         retrain_iris, heal=promotion_completes, check=production_unchanged, timeout=150),
    Case("apps", "deployments", "get",
         "a reconcile reads the serving Deployment's rollout (KubeApi.get_deployment)", poke),
    Case("", "services", "get",
         "a reconcile checks the Service in front of its Deployment (KubeApi.get_service)", poke),
    Case("", "persistentvolumeclaims", "get",
         "a reconcile checks the artifacts PVC exists (KubeApi.get_pvc)", poke),
    Case("autoscaling", "horizontalpodautoscalers", "get",
         "a reconcile reads its serving autoscaler (KubeApi.get_autoscaler)", poke),
    Case("autoscaling", "horizontalpodautoscalers", "create",
         "the first promotion of an autoscaled pipeline creates its HPA "
         "(KubeApi.create_autoscaler)", scaled("mk-hpa"), heal=delete_throwaway("mk-hpa"),
         timeout=150),
    Case("autoscaling", "horizontalpodautoscalers", "patch",
         "a changed spec.serving.autoscaling is applied (KubeApi.patch_autoscaler)", rescale),
    Case("autoscaling", "horizontalpodautoscalers", "delete",
         "a dropped spec.serving.autoscaling removes the HPA (KubeApi.delete_autoscaler)",
         unscale, heal=delete_throwaway("scaled")),
    Case("", "secrets", "get",
         "a followed git ref reads its credentialsSecret (KubeApi.get_secret)",
         follow_with_credentials, heal=delete_follow),
    # kopf lists and watches once, at start-up: these cases restart the operator pod
    # with the verb removed. Each restart also undoes the previous case; the last heals.
    Case("modelpipe.io", "modelpipelines", "list",
         "a starting operator lists the pipelines it resumes (kopf)", restart),
    Case("modelpipe.io", "modelpipelines", "watch",
         "the operator follows pipeline changes (kopf watch)", restart),
    Case("batch", "jobs", "watch",
         "Job progress triggers reconciles (kopf's label-selected Job watch)", restart),
    Case("apps", "deployments", "list",
         "a starting operator lists the serving Deployments it watches (kopf)", restart),
    Case("apps", "deployments", "watch",
         "rollouts trigger reconciles (kopf's label-selected Deployment watch)", restart,
         heal=restart),
]  # fmt: skip
PREPARE = {"delete-jobs": start_supersede, "patch-horizontalpodautoscalers": start_scaled}
