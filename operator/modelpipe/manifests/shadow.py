"""The shadow Deployment and Service: the candidate answering copies of production's requests.

Its pods are the serving Deployment's twin for the candidate, but labelled
``app.kubernetes.io/component: shadow`` instead of ``serving``: the pipeline's Service
(and production's Deployment) never select them, so no client ever gets their answers.
Its own Service, ``<pipeline>-shadow``, is where production's pods send the copies
(``MODELPIPE_SHADOW_TARGET``, set by manifests.serving.shadow_target). Between
shadows the Deployment stays at zero replicas, owned by the pipeline.
"""

from __future__ import annotations

import copy

from modelpipe.api.config import UNCONFIGURED, OperatorConfig
from modelpipe.api.v1alpha1 import Metadata, ModelPipelineSpec
from modelpipe.api.v1alpha1.spec import ServingTemplate
from modelpipe.layout import PIPELINE_LABEL, SHADOW_SUFFIX
from modelpipe.manifests.common import Manifest, base_labels, owner_reference
from modelpipe.manifests.serving import COMPONENT_LABEL, serving_deployment


def shadow_name(pipeline: str) -> str:
    return f"{pipeline}{SHADOW_SUFFIX}"


def shadow_labels(pipeline: str) -> dict[str, str]:
    return {PIPELINE_LABEL: pipeline, COMPONENT_LABEL: "shadow"}


def shadow_deployment(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    version: str,
    model_dir: str,
    replicas: int,
    config: OperatorConfig = UNCONFIGURED,
    model_uri: str | None = None,
) -> Manifest:
    """The serving Deployment's twin for ``version``, outside the pipeline's Service (and
    copying nothing on: no mirror)."""
    manifest = copy.deepcopy(
        serving_deployment(
            meta=meta,
            spec=spec,
            version=version,
            model_dir=model_dir,
            config=config,
            model_uri=model_uri,
        )
    )
    labels = shadow_labels(meta.name)
    manifest["metadata"]["name"] = shadow_name(meta.name)
    manifest["metadata"]["labels"] |= labels
    body = manifest["spec"]
    body["replicas"] = replicas
    body["selector"] = {"matchLabels": labels}
    pod = body["template"]
    pod["metadata"]["labels"] |= labels
    return manifest


def shadow_service(*, meta: Metadata, spec: ModelPipelineSpec) -> Manifest:
    """The ClusterIP Service production's pods copy requests to, owned by the pipeline."""
    port = (spec.serving.template or ServingTemplate()).port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": shadow_name(meta.name),
            "namespace": meta.namespace,
            "labels": {**base_labels(meta.name), COMPONENT_LABEL: "shadow"},
            "ownerReferences": [owner_reference(meta)],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": shadow_labels(meta.name),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
