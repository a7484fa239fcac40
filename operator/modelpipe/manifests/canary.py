"""The canary Deployment: the candidate beside production, behind the same Service.

Its pods carry the pipeline's serving labels, so the Service (and the main Deployment's
pod list, read for analysis) sees them, plus ``modelpipe.io/track: canary``, so its own
selector never claims production's pods. Its replicas set the traffic split
(planning.canary); between canaries it stays at zero replicas, owned by the pipeline.
"""

from __future__ import annotations

import copy

from modelpipe.api.config import UNCONFIGURED, OperatorConfig
from modelpipe.api.v1alpha1 import Metadata, ModelPipelineSpec
from modelpipe.layout import CANARY_SUFFIX, MODEL_VERSION_ANNOTATION, TRACK_LABEL
from modelpipe.manifests.common import Manifest
from modelpipe.manifests.serving import serving_deployment

CANARY_TRACK = {TRACK_LABEL: "canary"}


def canary_name(pipeline: str) -> str:
    return f"{pipeline}{CANARY_SUFFIX}"


def canary_deployment(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    version: str,
    model_dir: str,
    replicas: int,
    config: OperatorConfig = UNCONFIGURED,
    model_uri: str | None = None,
) -> Manifest:
    """The serving Deployment's twin for ``version``, at ``replicas`` pods."""
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
    manifest["metadata"]["name"] = canary_name(meta.name)
    manifest["metadata"]["labels"] |= CANARY_TRACK
    body = manifest["spec"]
    body["replicas"] = replicas
    body["selector"]["matchLabels"] |= CANARY_TRACK
    body["template"]["metadata"]["labels"] |= CANARY_TRACK
    return manifest


def canary_patch(manifest: Manifest) -> Manifest:
    """A JSON merge patch bringing an existing canary Deployment to ``manifest``: lists
    (containers, env) are replaced whole; the selector is immutable and left out."""
    body = {k: v for k, v in manifest["spec"].items() if k != "selector"}
    version = manifest["metadata"]["annotations"][MODEL_VERSION_ANNOTATION]
    return {"metadata": {"annotations": {MODEL_VERSION_ANNOTATION: version}}, "spec": body}
