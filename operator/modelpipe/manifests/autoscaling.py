"""The serving Deployment's HorizontalPodAutoscaler (``spec.serving.autoscaling``).

Named after the pipeline like the Deployment it scales, owned by the pipeline, and
carrying the hash of what the spec asks of it (``modelpipe.io/serving-hash``, as on the
Deployment), so an edit is seen without comparing fields the API server defaults.
While it exists the Deployment's manifests leave ``spec.replicas`` out: the HPA's.
"""

from __future__ import annotations

import hashlib
import json

from modelpipe.api.v1alpha1 import Metadata, ModelPipelineSpec
from modelpipe.layout import SERVING_HASH_ANNOTATION
from modelpipe.manifests.common import Manifest, base_labels, owner_reference
from modelpipe.manifests.serving import COMPONENT_LABEL


def serving_autoscaler(*, meta: Metadata, spec: ModelPipelineSpec) -> Manifest | None:
    """The autoscaler spec.serving asks for, or ``None`` (no autoscaling, or no owned
    Deployment to scale)."""
    scaling = spec.serving.autoscaling
    if scaling is None or spec.serving.template is None:
        return None
    hpa_spec: Manifest = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta.name},
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": name,
                    "target": {"type": "Utilization", "averageUtilization": target},
                },
            }
            for name, target in scaling.targets()
        ],
    }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "labels": {**base_labels(meta.name), COMPONENT_LABEL: "serving"},
            "annotations": {SERVING_HASH_ANNOTATION: _hash(hpa_spec)},
            "ownerReferences": [owner_reference(meta)],
        },
        "spec": hpa_spec,
    }


def autoscaler_hash(manifest: Manifest) -> str:
    """The hash an autoscaler built by :func:`serving_autoscaler` carries."""
    return str(manifest["metadata"]["annotations"][SERVING_HASH_ANNOTATION])


def autoscaler_patch(manifest: Manifest) -> Manifest:
    """JSON merge patch bringing an owned autoscaler to ``manifest``: every spec field is
    always set and the metrics list is replaced whole, so nothing the spec dropped stays."""
    return {
        "metadata": {"annotations": dict(manifest["metadata"]["annotations"])},
        "spec": manifest["spec"],
    }


def _hash(hpa_spec: Manifest) -> str:
    return hashlib.sha256(json.dumps(hpa_spec, sort_keys=True).encode()).hexdigest()[:16]
