"""Every Kubernetes API call the operator makes, and the RBAC rule each one needs.

:data:`RBAC_RULES` declares what the methods below need, each rule naming them; the
Helm chart's ClusterRole/Role is written by hand, and tests/packaging/test_chart_rbac.py
fails when it grants less than declared (or more, without a reason). kopf itself
additionally watches (list, watch) the ModelPipelines, Jobs and Deployments and patches
ModelPipeline status for its own bookkeeping; those verbs are included in the rules.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from modelpipe.api.v1alpha1 import GROUP, PLURAL, VERSION
from modelpipe.k8s.bodies import (
    B,
    DeploymentBody,
    JobBody,
    LocalQueueBody,
    ObjectBody,
    PodBody,
    parse,
    parse_all,
)
from modelpipe.k8s.rest import JSON, MERGE_PATCH, STRATEGIC_MERGE_PATCH, ApiError, Rest
from modelpipe.sources.credentials import SecretView

JSON_PATCH = "application/json-patch+json"
# Kueue's storage version since v0.15 (v1beta1 is still served, deprecated).
KUEUE_GROUP = "kueue.x-k8s.io"
KUEUE_API_VERSION = f"{KUEUE_GROUP}/v1beta2"


@dataclass(frozen=True)
class RbacRule:
    api_group: str
    resource: str
    verbs: tuple[str, ...]
    used_by: str


RBAC_RULES: tuple[RbacRule, ...] = (
    RbacRule(
        GROUP,
        PLURAL,
        ("get", "list", "watch", "patch"),
        "kopf watch + KubeApi.get_pipeline; kopf diff-base/progress storage patches",
    ),
    RbacRule(
        GROUP,
        f"{PLURAL}/status",
        ("get", "patch"),
        "KubeApi.patch_pipeline_status; kopf StatusDiffBaseStorage/StatusProgressStorage",
    ),
    RbacRule(
        "batch",
        "jobs",
        ("get", "list", "watch", "create", "delete"),
        "kopf Job watch; KubeApi.list_jobs, list_all_jobs (training queue), create_job, "
        "delete_job (training and hash Jobs)",
    ),
    RbacRule(
        "", "pods", ("list",), "KubeApi.list_job_pods (trainer and hash Job termination messages)"
    ),
    RbacRule(
        "",
        "configmaps",
        ("create", "patch"),
        "KubeApi.create_config_map, patch_config_map, refresh_config_map (a run's config)",
    ),
    RbacRule(
        "apps",
        "deployments",
        ("get", "list", "watch", "create", "patch"),
        "kopf Deployment watch; KubeApi.get_deployment, create_deployment, patch_deployment",
    ),
    RbacRule("", "services", ("get", "create"), "KubeApi.get_service, create_service"),
    RbacRule(
        "autoscaling",
        "horizontalpodautoscalers",
        ("get", "create", "patch", "delete"),
        "KubeApi.get_autoscaler, create_autoscaler, patch_autoscaler, delete_autoscaler "
        "(spec.serving.autoscaling)",
    ),
    RbacRule(
        "",
        "serviceaccounts",
        ("get",),
        "KubeApi.get_service_account (a named ServiceAccount exists and opted in, before a write)",
    ),
    RbacRule(
        "", "persistentvolumeclaims", ("get",), "KubeApi.get_pvc (missing artifacts or data claim)"
    ),
    RbacRule(
        "", "secrets", ("get",), "KubeApi.get_secret (credentialsSecret of a followed git ref)"
    ),
    RbacRule(
        KUEUE_GROUP,
        "localqueues",
        ("get",),
        "KubeApi.get_local_queue (spec.training.queueName exists: QueueNotFound otherwise)",
    ),
    RbacRule("", "events", ("create",), "KubeApi.create_event; kopf's own warning events"),
    RbacRule(
        "coordination.k8s.io",
        "leases",
        ("get", "create", "patch"),
        "LeaderElector (only with --leader-election; its own namespace)",
    ),
    RbacRule("events.k8s.io", "events", ("create",), "kopf's own warning events"),
    RbacRule(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        ("get", "list", "watch"),
        "kopf resource discovery",
    ),
    RbacRule("", "namespaces", ("get", "list", "watch"), "kopf namespace discovery"),
    RbacRule(
        "kopf.dev",
        "kopfpeerings",
        ("get", "list", "watch", "patch"),
        "kopf peering (only with --peering)",
    ),
    RbacRule(
        "kopf.dev",
        "clusterkopfpeerings",
        ("get", "list", "watch", "patch"),
        "kopf peering (only with --peering --all-namespaces)",
    ),
)


_HPA, _HPAS = "autoscaling/v2", "horizontalpodautoscalers"


def _ns(group_version: str, namespace: str, plural: str) -> str:
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return f"{prefix}/namespaces/{namespace}/{plural}"


class KubeApi:
    """One method a call; what is read comes back parsed (:mod:`modelpipe.k8s.bodies`),
    ``None`` when the object does not exist."""

    def __init__(self, rest: Rest) -> None:
        self.rest = rest

    def get_pipeline(self, namespace: str, name: str) -> JSON | None:
        return self.rest.request("GET", f"{_ns(f'{GROUP}/{VERSION}', namespace, PLURAL)}/{name}")

    def patch_pipeline_status(self, namespace: str, name: str, status_patch: JSON) -> None:
        path = f"{_ns(f'{GROUP}/{VERSION}', namespace, PLURAL)}/{name}/status"
        self.rest.request("PATCH", path, body={"status": status_patch}, content_type=MERGE_PATCH)

    def list_jobs(self, namespace: str, selector: str) -> list[JobBody]:
        items = self.rest.list_items(_ns("batch/v1", namespace, "jobs"), selector=selector)
        return parse_all(JobBody, items)

    def list_all_jobs(self, selector: str) -> list[JobBody]:
        """Jobs of every namespace (the training queue's count after a restart)."""
        return parse_all(JobBody, self.rest.list_items("/apis/batch/v1/jobs", selector=selector))

    def create_job(self, namespace: str, manifest: JSON) -> str | None:
        """Create; the new Job's uid, ``None`` if one of that name exists (adopted, not doubled)."""
        created = self._create_object(_ns("batch/v1", namespace, "jobs"), manifest)
        return str(created["metadata"]["uid"]) if created is not None else None

    def create_config_map(self, namespace: str, manifest: JSON) -> bool:
        return self._create(_ns("v1", namespace, "configmaps"), manifest)

    def patch_config_map(self, namespace: str, name: str, patch: JSON) -> None:
        path = f"{_ns('v1', namespace, 'configmaps')}/{name}"
        self.rest.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    def refresh_config_map(
        self, namespace: str, name: str, *, owner_uid: str, data: dict[str, str]
    ) -> None:
        """Replace the data of a ConfigMap whose first owner is ``owner_uid``.

        The apiserver checks the owner in the same request (a JSON patch ``test``), so a
        ConfigMap of that name that is not the operator's is refused, never written.
        """
        path = f"{_ns('v1', namespace, 'configmaps')}/{name}"
        patch = [
            {"op": "test", "path": "/metadata/ownerReferences/0/uid", "value": owner_uid},
            {"op": "replace", "path": "/data", "value": data},
        ]
        self.rest.request("PATCH", path, body=patch, content_type=JSON_PATCH)

    def delete_job(self, namespace: str, name: str) -> None:
        path = f"{_ns('batch/v1', namespace, 'jobs')}/{name}"
        self.rest.request("DELETE", path, body={"propagationPolicy": "Background"})

    def list_job_pods(self, namespace: str, job: str) -> list[PodBody]:
        return self.list_pods(namespace, f"job-name={job}")

    def list_pods(self, namespace: str, selector: str) -> list[PodBody]:
        items = self.rest.list_items(_ns("v1", namespace, "pods"), selector=selector)
        return parse_all(PodBody, items)

    def get_deployment(self, namespace: str, name: str) -> DeploymentBody | None:
        return self._get(DeploymentBody, f"{_ns('apps/v1', namespace, 'deployments')}/{name}")

    def create_deployment(self, namespace: str, manifest: JSON) -> bool:
        return self._create(_ns("apps/v1", namespace, "deployments"), manifest)

    def patch_deployment(
        self, namespace: str, name: str, patch: JSON, *, content_type: str = STRATEGIC_MERGE_PATCH
    ) -> None:
        path = f"{_ns('apps/v1', namespace, 'deployments')}/{name}"
        self.rest.request("PATCH", path, body=patch, content_type=content_type)

    def get_service_account(self, namespace: str, name: str) -> ObjectBody | None:
        return self._get(ObjectBody, f"{_ns('v1', namespace, 'serviceaccounts')}/{name}")

    def get_service(self, namespace: str, name: str) -> ObjectBody | None:
        return self._get(ObjectBody, f"{_ns('v1', namespace, 'services')}/{name}")

    def create_service(self, namespace: str, manifest: JSON) -> bool:
        return self._create(_ns("v1", namespace, "services"), manifest)

    def get_autoscaler(self, namespace: str, name: str) -> ObjectBody | None:
        return self._get(ObjectBody, f"{_ns(_HPA, namespace, _HPAS)}/{name}")

    def create_autoscaler(self, namespace: str, manifest: JSON) -> bool:
        return self._create(_ns(_HPA, namespace, _HPAS), manifest)

    def patch_autoscaler(self, namespace: str, name: str, patch: JSON) -> None:
        path = f"{_ns(_HPA, namespace, _HPAS)}/{name}"
        self.rest.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    def delete_autoscaler(self, namespace: str, name: str, *, uid: str) -> None:
        """Delete the autoscaler with this ``uid`` only: one made since under that name stays."""
        path = f"{_ns(_HPA, namespace, _HPAS)}/{name}"
        self.rest.request("DELETE", path, body={"preconditions": {"uid": uid}})

    def get_local_queue(self, namespace: str, name: str) -> LocalQueueBody | None:
        """A Kueue LocalQueue; ``None`` also when Kueue's CRDs are not installed."""
        return self._get(
            LocalQueueBody, f"{_ns(KUEUE_API_VERSION, namespace, 'localqueues')}/{name}"
        )

    def get_pvc(self, namespace: str, name: str) -> ObjectBody | None:
        path = f"{_ns('v1', namespace, 'persistentvolumeclaims')}/{name}"
        return self._get(ObjectBody, path)

    def get_secret(self, namespace: str, name: str) -> SecretView | None:
        """Labels, annotations and decoded data; the data goes to the source pollers only."""
        body = self.rest.request("GET", f"{_ns('v1', namespace, 'secrets')}/{name}")
        if body is None:
            return None
        metadata, data = body.get("metadata") or {}, body.get("data") or {}
        return SecretView(
            labels=dict(metadata.get("labels") or {}),
            annotations=dict(metadata.get("annotations") or {}),
            data={key: base64.b64decode(v).decode(errors="replace") for key, v in data.items()},
        )

    def create_event(self, namespace: str, event: JSON) -> bool:
        """Create; ``False`` if an Event of that name exists (the decision was told already)."""
        return self._create(_ns("v1", namespace, "events"), event)

    def _get(self, model: type[B], path: str) -> B | None:
        found = self.rest.request("GET", path)
        return None if found is None else parse(model, found)

    def _create(self, path: str, manifest: dict[str, Any]) -> bool:
        return self._create_object(path, manifest) is not None

    def _create_object(self, path: str, manifest: dict[str, Any]) -> JSON | None:
        """The created object, or ``None`` if one of that name already exists."""
        try:
            created = self.rest.request("POST", path, body=manifest)
        except ApiError as error:
            if error.status == 409 and error.reason == "AlreadyExists":
                return None
            raise
        assert created is not None, f"POST {path} answered without the object"
        return created
