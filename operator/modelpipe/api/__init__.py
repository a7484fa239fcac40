"""The ModelPipeline API: one pydantic model per CRD version, the source of truth.

The CRD YAML in ``crds/`` is generated from these models by :mod:`modelpipe.api.crdgen`.
"""

from modelpipe.api.v1alpha1 import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    ModelPipeline,
    ModelPipelineSpec,
    ModelPipelineStatus,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "ModelPipeline",
    "ModelPipelineSpec",
    "ModelPipelineStatus",
]
