"""``spec.serving``: where the promoted model serves, and how its rollout is judged."""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from modelpipe.api.v1alpha1._base import OBJECT_NAME_PATTERN, Arg, SpecModel, cel, validations
from modelpipe.api.v1alpha1.autoscaling import Autoscaling
from modelpipe.api.v1alpha1.pods import PodPlacement
from modelpipe.api.v1alpha1.resources import Resources
from modelpipe.api.v1alpha1.strategy import Strategy


class Probe(SpecModel):
    """Readiness probe timings of the serving container (path /v2/health/ready)."""

    initial_delay_seconds: int = Field(default=1, ge=0)
    period_seconds: int = Field(default=2, ge=1)
    timeout_seconds: int = Field(default=2, ge=1)
    failure_threshold: int = Field(default=3, ge=1)


class ServingTemplate(PodPlacement):
    """The Deployment and Service the operator creates and owns (placement included)."""

    image: str | None = Field(
        default=None,
        max_length=512,
        description="Serving image. Defaults to spec.code.image when that is set, else to the "
        "operator's configured server image (Helm value server.image).",
    )
    command: list[Arg] | None = Field(
        default=None,
        max_length=64,
        description="Command; defaults to modelpipe-trainer serve. Required with a custom image.",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Container and Service port.")
    resources: Resources | None = Field(
        default=None,
        description="Compute resources of the SERVING container (each replica), not the "
        "training one (that is spec.training.resources).",
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description="Service account of serving pods.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.image) || has(self.command)",
                "serving.template.command is required when serving.template.image is set: "
                "the operator only knows the entrypoint of the trainer image",
            ),
        )
    )


class Analysis(SpecModel):
    """Live analysis of a promoted model: its serving pods' /metrics during a bake window."""

    bake_seconds: int = Field(
        default=300,
        ge=10,
        le=86400,
        description="After a promotion, this long the new model's live metrics can roll it back "
        "to the model it replaced.",
    )
    max_error_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Largest share of 5xx answers, e.g. 0.01."
    )
    max_latency_p99_ms: float | None = Field(
        default=None, gt=0.0, le=600000.0, description="Largest p99 latency in milliseconds."
    )
    min_requests: int = Field(
        default=20,
        ge=1,
        le=1000000,
        description="Requests needed for a verdict: fewer at the window's end hold the "
        "analysis (no traffic, no verdict) rather than pass it.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.maxErrorRate) || has(self.maxLatencyP99Ms)",
                "serving.analysis needs maxErrorRate, maxLatencyP99Ms or both",
            ),
        )
    )

    @model_validator(mode="after")
    def _judges_something(self) -> Self:
        if self.max_error_rate is None and self.max_latency_p99_ms is None:
            raise ValueError("serving.analysis needs maxErrorRate, maxLatencyP99Ms or both")
        return self


_AUTOSCALING_NEEDS_TEMPLATE = (
    "serving.autoscaling needs serving.template: the operator scales only the Deployment it "
    "creates and owns"
)
_AUTOSCALING_OWNS_REPLICAS = (
    "serving.replicas does not apply with serving.autoscaling (the autoscaler sets the "
    "replicas between minReplicas and maxReplicas): remove serving.replicas"
)


def _needs_request(resource: str, field: str) -> dict[str, str]:
    requests = "self.template.resources.requests"
    return cel(
        f"!has(self.autoscaling) || !has(self.autoscaling.{field}) || (has(self.template) "
        f"&& has(self.template.resources) && has({requests}) && '{resource}' in {requests})",
        _needs_request_message(resource),
    )


def _needs_request_message(resource: str) -> str:
    return (
        f"serving.autoscaling targets {resource} utilisation, a share of the pods' request: "
        f"set serving.template.resources.requests.{resource}"
    )


_ANALYSIS_NEEDS_TEMPLATE = (
    "serving.analysis needs serving.template: the operator reads the /metrics of the pods it "
    "creates"
)


_CANARY_NEEDS = (
    "serving.strategy Canary needs serving.template and no serving.autoscaling: the operator "
    "splits traffic by the replicas of the Deployments it creates"
)


_SHADOW_NEEDS = (
    "serving.strategy Shadow needs serving.template, no serving.autoscaling and "
    "serving.replicas of at least 1: production's pods (created by the operator) copy "
    "their requests to the shadow"
)


class ServingSpec(SpecModel):
    """Where the promoted model serves: an existing Deployment or one the operator creates."""

    deployment_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description="Existing Deployment to update.",
    )
    container_name: str | None = Field(
        default=None,
        max_length=63,
        description="Container of the existing Deployment to update; defaults to the first.",
    )
    template: ServingTemplate | None = Field(
        default=None,
        description="Create and own a Deployment and Service named after the pipeline.",
    )
    model_name: str | None = Field(
        default=None,
        max_length=63,
        pattern=OBJECT_NAME_PATTERN,
        description="Model name in the inference API; defaults to the pipeline name.",
    )
    replicas: int = Field(
        default=1,
        ge=0,
        le=100,
        description="Replicas of a created Deployment; with serving.autoscaling the "
        "autoscaler sets them instead.",
    )
    autoscaling: Autoscaling | None = Field(
        default=None,
        description="Scale the created Deployment with a HorizontalPodAutoscaler the operator "
        "owns (needs serving.template); removing this field removes the autoscaler and "
        "serving.replicas applies again.",
    )
    readiness_probe: Probe = Field(default_factory=Probe)
    progress_deadline_seconds: int | None = Field(
        default=None,
        ge=5,
        description="Rollouts slower than this are rolled back. Unset: the operator's "
        "default for the runtime that serves the candidate (short for a verified ONNX "
        "model, long for the scikit-learn fallback; status.lastRun.servingRuntime).",
    )
    pinned_version: str | None = Field(
        default=None,
        max_length=64,
        description="Serve this model version from history and stop automatic promotion.",
    )
    analysis: Analysis | None = Field(
        default=None,
        description="Roll a promoted model back when its live /metrics break these limits "
        "within the bake window (needs serving.template: the operator reads its pods).",
    )
    strategy: Strategy = Field(
        default_factory=Strategy,
        description="How a model that passed the gate reaches production: RollingUpdate, "
        "Canary steps or Shadow (both need serving.template, no autoscaling).",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.deploymentName) != has(self.template)",
                "set exactly one of serving.deploymentName (update an existing Deployment) "
                "or serving.template (the operator creates one)",
            ),
            cel(
                "!has(self.containerName) || has(self.deploymentName)",
                "serving.containerName only applies with serving.deploymentName",
            ),
            cel(
                "!has(self.analysis) || has(self.template)",
                _ANALYSIS_NEEDS_TEMPLATE,
            ),
            cel("!has(self.autoscaling) || has(self.template)", _AUTOSCALING_NEEDS_TEMPLATE),
            cel(
                "!has(self.strategy) || !has(self.strategy.type) || "
                "self.strategy.type != 'Canary' || (has(self.template) && !has(self.autoscaling))",
                _CANARY_NEEDS,
            ),
            cel(
                "!has(self.strategy) || !has(self.strategy.type) || "
                "self.strategy.type != 'Shadow' || (has(self.template) && "
                "!has(self.autoscaling) && (!has(self.replicas) || self.replicas >= 1))",
                _SHADOW_NEEDS,
            ),
            cel(
                "!has(self.autoscaling) || !has(self.replicas) || self.replicas == 1",
                _AUTOSCALING_OWNS_REPLICAS,
            ),
            _needs_request("cpu", "targetCPUUtilizationPercentage"),
            _needs_request("memory", "targetMemoryUtilizationPercentage"),
        )
    )

    @model_validator(mode="after")
    def _analysis_has_pods_to_read(self) -> Self:
        if self.analysis is not None and self.template is None:
            raise ValueError(_ANALYSIS_NEEDS_TEMPLATE)
        return self

    @model_validator(mode="after")
    def _canary_has_replicas_to_split(self) -> Self:
        if self.strategy.canary and (self.template is None or self.autoscaling is not None):
            raise ValueError(_CANARY_NEEDS)
        return self

    @model_validator(mode="after")
    def _shadow_has_production_pods_to_copy(self) -> Self:
        shadowing = self.strategy.shadowing
        if shadowing and (self.template is None or self.autoscaling or self.replicas < 1):
            raise ValueError(_SHADOW_NEEDS)
        return self

    @model_validator(mode="after")
    def _autoscaling_has_a_deployment_to_scale(self) -> Self:
        scaling = self.autoscaling
        if scaling is None:
            return self
        if self.template is None:
            raise ValueError(_AUTOSCALING_NEEDS_TEMPLATE)
        if self.replicas != 1:
            raise ValueError(_AUTOSCALING_OWNS_REPLICAS)
        resources = self.template.resources
        requests = (resources.requests if resources else None) or {}
        for resource, _ in scaling.targets():
            if resource not in requests:
                raise ValueError(_needs_request_message(resource))
        return self
