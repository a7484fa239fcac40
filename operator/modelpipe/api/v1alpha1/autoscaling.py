"""``spec.serving.autoscaling``: a HorizontalPodAutoscaler for the Deployment the operator owns.

A small form of ``autoscaling/v2``: replica bounds and average utilisation targets of the
serving pods' CPU and memory requests. The operator creates, updates and deletes the HPA
(named after the pipeline, owned by it) and then leaves ``spec.replicas`` of the
Deployment to it, so the two never fight. The rules that need the rest of
``spec.serving`` (a template, a request to measure against) live on ``ServingSpec``.
"""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from modelpipe.api.v1alpha1._base import SpecModel, cel, validations

MAX_REPLICAS = 100
_TARGET = "serving.autoscaling needs targetCPUUtilizationPercentage, "
_TARGET += "targetMemoryUtilizationPercentage or both"
_BOUNDS = "serving.autoscaling: minReplicas must be less than or equal to maxReplicas"


class Autoscaling(SpecModel):
    """Scale the serving Deployment between minReplicas and maxReplicas (an HPA)."""

    min_replicas: int = Field(
        default=1,
        ge=1,
        le=MAX_REPLICAS,
        description="Fewest replicas the autoscaler keeps (1 to 100).",
    )
    max_replicas: int = Field(
        ge=1,
        le=MAX_REPLICAS,
        description="Most replicas the autoscaler may run (1 to 100), at least minReplicas.",
    )
    target_cpu_utilization_percentage: int | None = Field(
        default=None,
        alias="targetCPUUtilizationPercentage",
        ge=1,
        le=1000,
        description="Average CPU use of the serving pods, in percent of their CPU request "
        "(serving.template.resources.requests.cpu, required), to scale towards, e.g. 70.",
    )
    target_memory_utilization_percentage: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Average memory use of the serving pods, in percent of their memory "
        "request (serving.template.resources.requests.memory, required), to scale towards.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("!has(self.minReplicas) || self.minReplicas <= self.maxReplicas", _BOUNDS),
            cel(
                "has(self.targetCPUUtilizationPercentage) || "
                "has(self.targetMemoryUtilizationPercentage)",
                _TARGET,
            ),
        )
    )

    @model_validator(mode="after")
    def _bounded_and_targeted(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(_BOUNDS)
        if not self.targets():
            raise ValueError(_TARGET)
        return self

    def targets(self) -> tuple[tuple[str, int], ...]:
        """(resource, average utilisation in percent) pairs: each needs a request on the pods."""
        both = (
            ("cpu", self.target_cpu_utilization_percentage),
            ("memory", self.target_memory_utilization_percentage),
        )
        return tuple((name, target) for name, target in both if target is not None)
