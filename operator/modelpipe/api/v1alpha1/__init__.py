"""modelpipe.io/v1alpha1: the ModelPipeline kind."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from modelpipe.api.v1alpha1.enums import (
    FINAL_VERDICTS,
    TRAINED_VERDICTS,
    ConditionType,
    Reason,
    RunPhase,
    Verdict,
)
from modelpipe.api.v1alpha1.spec import DEFAULT_TRAINER_IMAGE, KNOWN_METRICS, ModelPipelineSpec
from modelpipe.api.v1alpha1.status import (
    CanaryProgress,
    Condition,
    CurrentRun,
    Failure,
    GateCheck,
    Inputs,
    ModelPipelineStatus,
    Production,
    RunRecord,
    ShadowProgress,
    all_runs,
    with_runs,
)

GROUP = "modelpipe.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ModelPipeline"
PLURAL = "modelpipelines"
SINGULAR = "modelpipeline"
SHORT_NAMES = ("mp",)
# Pipeline names leave room for "-<hash8>" in Job names (63 characters, a label value).
MAX_NAME_LENGTH = 54
# Pipeline names are DNS-1035 labels: the serving Service is named after the pipeline.
PIPELINE_NAME_PATTERN = "^[a-z]([-a-z0-9]*[a-z0-9])?$"


class Metadata(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str
    namespace: str = "default"
    uid: str = ""
    generation: int = 0
    annotations: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    creation_timestamp: str | None = Field(default=None, alias="creationTimestamp")


class ModelPipeline(BaseModel):
    """A whole object as read from the API."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: str = KIND
    metadata: Metadata
    spec: ModelPipelineSpec
    status: ModelPipelineStatus = Field(default_factory=ModelPipelineStatus)


__all__ = [
    "API_VERSION",
    "DEFAULT_TRAINER_IMAGE",
    "FINAL_VERDICTS",
    "GROUP",
    "KIND",
    "KNOWN_METRICS",
    "MAX_NAME_LENGTH",
    "PIPELINE_NAME_PATTERN",
    "PLURAL",
    "SHORT_NAMES",
    "SINGULAR",
    "TRAINED_VERDICTS",
    "VERSION",
    "CanaryProgress",
    "Condition",
    "ConditionType",
    "CurrentRun",
    "Failure",
    "GateCheck",
    "Inputs",
    "Metadata",
    "ModelPipeline",
    "ModelPipelineSpec",
    "ModelPipelineStatus",
    "Production",
    "Reason",
    "RunPhase",
    "RunRecord",
    "ShadowProgress",
    "Verdict",
    "all_runs",
    "with_runs",
]
