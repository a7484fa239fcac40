"""Pieces shared by the training and serving manifests: owner references and Pod Security."""

from __future__ import annotations

from typing import Any

from modelpipe.api.v1alpha1 import API_VERSION, KIND, Metadata
from modelpipe.api.v1alpha1.pods import NodeAffinityRule, PodPlacement
from modelpipe.api.v1alpha1.spec import Resources
from modelpipe.layout import ARTIFACTS_VOLUME, MANAGED_BY, MANAGED_BY_LABEL, PIPELINE_LABEL

NONROOT_UID = 65532
# Non-root pods have no home directory of their own; /tmp is the scratch space inside the pod.
HOME_ENV = {"name": "HOME", "value": "/tmp"}  # noqa: S108
# The root filesystem is read-only, so /tmp (HOME, tempfile, git) is an emptyDir of the pod.
TMP_VOLUME = {"name": "tmp", "emptyDir": {}}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108

Manifest = dict[str, Any]


def owner_reference(meta: Metadata) -> Manifest:
    """The pipeline as controller owner: garbage collection, and Argo CD sees a child, not drift."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": meta.name,
        "uid": meta.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def base_labels(pipeline: str) -> dict[str, str]:
    return {PIPELINE_LABEL: pipeline, MANAGED_BY_LABEL: MANAGED_BY}


def pod_security_context() -> Manifest:
    """Pod Security Standard "restricted" at pod level."""
    return {
        "runAsNonRoot": True,
        "runAsUser": NONROOT_UID,
        "runAsGroup": NONROOT_UID,
        "fsGroup": NONROOT_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Manifest:
    """Pod Security Standard "restricted" at container level."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def artifacts_volume(pvc: str, *, read_only: bool) -> Manifest:
    return {
        "name": ARTIFACTS_VOLUME,
        "persistentVolumeClaim": {"claimName": pvc, "readOnly": read_only},
    }


def resources(spec: Resources | None) -> Manifest:
    if spec is None:
        return {}
    out: Manifest = {}
    if spec.requests:
        out["requests"] = {k: str(v) for k, v in spec.requests.items()}
    if spec.limits:
        out["limits"] = {k: str(v) for k, v in spec.limits.items()}
    return out


def service_account(name: str | None) -> Manifest:
    """A pod's account: none and no API token (trainer and server never call the API), or
    one that opted in (planning.accounts), whose own automountServiceAccountToken decides."""
    return {"serviceAccountName": name} if name else {"automountServiceAccountToken": False}


# The pod fields placement() may write: a serving patch nulls those the spec dropped.
PLACEMENT_FIELDS = (
    "nodeSelector",
    "affinity",
    "tolerations",
    "topologySpreadConstraints",
    "priorityClassName",
)
REQUIRED_NODES = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED_NODES = "preferredDuringSchedulingIgnoredDuringExecution"


def placement(spec: PodPlacement, *, pods: dict[str, str]) -> Manifest:
    """A pod's scheduling fields; a spread constraint without labels counts ``pods``."""
    out: Manifest = {}
    if spec.node_selector:
        out["nodeSelector"] = dict(spec.node_selector)
    if spec.node_affinity:
        out["affinity"] = {"nodeAffinity": _node_affinity(spec.node_affinity)}
    if spec.tolerations:
        out["tolerations"] = [
            t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in spec.tolerations
        ]
    if spec.topology_spread_constraints:
        out["topologySpreadConstraints"] = [
            {
                "maxSkew": c.max_skew,
                "topologyKey": c.topology_key,
                "whenUnsatisfiable": c.when_unsatisfiable,
                "labelSelector": {"matchLabels": dict(c.match_labels or pods)},
            }
            for c in spec.topology_spread_constraints
        ]
    if spec.priority_class_name:
        out["priorityClassName"] = spec.priority_class_name
    return out


def _node_affinity(rules: list[NodeAffinityRule]) -> Manifest:
    """Required rules as one node selector term (all must hold), each preference on its own."""

    def expression(rule: NodeAffinityRule) -> Manifest:
        values = {"values": list(rule.values)} if rule.values else {}
        return {"key": rule.key, "operator": rule.operator, **values}

    required = [expression(r) for r in rules if r.weight is None]
    out: Manifest = {}
    if required:
        out[REQUIRED_NODES] = {"nodeSelectorTerms": [{"matchExpressions": required}]}
    preferred = [
        {"weight": r.weight, "preference": {"matchExpressions": [expression(r)]}}
        for r in rules
        if r.weight is not None
    ]
    if preferred:
        out[PREFERRED_NODES] = preferred
    return out
