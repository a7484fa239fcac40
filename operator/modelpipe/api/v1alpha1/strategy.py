"""``spec.serving.strategy``: how a model that passed the gate reaches production.

``RollingUpdate`` (the default) rolls the serving Deployment to it at once. ``Canary``
first runs it beside production in steps of traffic weight, each a pause (or, with
``spec.serving.analysis``, a bake judged on its live ``/metrics``). The split is by
replica ratio behind the one Service (planning.canary). ``Shadow`` runs it beside
production on a copy of each request, answering no client, and promotes it only if its
answers agree with production's often enough (planning.shadow). The rules that need the
rest of ``spec.serving`` (a template, no autoscaler, replicas) live on ``ServingSpec``.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from modelpipe.api.v1alpha1._base import SpecModel, cel, validations

MAX_STEPS = 10
_STEPS_NEEDED = "serving.strategy.steps is required with type Canary (and only with it)"
_SHADOW_NEEDED = "serving.strategy.shadow is required with type Shadow (and only with it)"
_INCREASING = "serving.strategy.steps: weights must increase from one step to the next"


class StrategyType(StrEnum):
    ROLLING_UPDATE = "RollingUpdate"
    CANARY = "Canary"
    SHADOW = "Shadow"


class CanaryStep(SpecModel):
    """One step of a canary: its share of the serving pods, and how long it lasts."""

    weight: int = Field(
        ge=1,
        le=100,
        description="Percent of the serving pods (so of the Service's traffic) running the "
        "candidate, 1 to 100; rounded to whole pods, at least one of each.",
    )
    pause_seconds: int = Field(
        default=60,
        ge=0,
        le=86400,
        description="How long the step lasts. With serving.analysis its live /metrics are "
        "judged over it (a bake: a broken limit aborts the canary); else a plain pause.",
    )


class ShadowTrial(SpecModel):
    """How long the candidate runs in shadow, and how often it must agree with production."""

    duration_seconds: int = Field(
        default=300,
        ge=10,
        le=86400,
        description="How long the shadow runs on copies of production's requests (counted "
        "from when its pods are ready) before it is judged.",
    )
    min_agreement: float = Field(
        ge=0.0,
        le=1.0,
        description="Share of mirrored rows whose prediction must equal production's "
        "(classification) or be within 5% of it (regression), e.g. 0.95.",
    )


class Strategy(SpecModel):
    """RollingUpdate (at once), Canary (steps of traffic weight, then production) or Shadow
    (a copy of the traffic, judged on agreement, then production)."""

    type: StrategyType = Field(
        default=StrategyType.ROLLING_UPDATE,
        description="RollingUpdate (at once), Canary (steps beside production first) or Shadow "
        "(copies of production's requests first; its answers are compared, never returned).",
    )
    steps: list[CanaryStep] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_STEPS,
        description="Canary steps, weights increasing; after the last one passes the model "
        "rolls out to every pod.",
    )
    shadow: ShadowTrial | None = Field(
        default=None,
        description="The shadow's duration and minAgreement (type Shadow only).",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("(has(self.type) && self.type == 'Canary') == has(self.steps)", _STEPS_NEEDED),
            cel("(has(self.type) && self.type == 'Shadow') == has(self.shadow)", _SHADOW_NEEDED),
            cel(
                "!has(self.steps) || (self.steps.map(s, s.weight).isSorted() && "
                "self.steps.all(s, self.steps.exists_one(t, t.weight == s.weight)))",
                _INCREASING,
            ),
        )
    )

    @model_validator(mode="after")
    def _steps_fit_the_type(self) -> Self:
        if (self.type == StrategyType.CANARY) != (self.steps is not None):
            raise ValueError(_STEPS_NEEDED)
        if (self.type == StrategyType.SHADOW) != (self.shadow is not None):
            raise ValueError(_SHADOW_NEEDED)
        weights = [s.weight for s in self.steps or ()]
        if any(later <= earlier for earlier, later in itertools.pairwise(weights)):
            raise ValueError(_INCREASING)
        return self

    @property
    def canary(self) -> bool:
        return self.type == StrategyType.CANARY

    @property
    def shadowing(self) -> bool:
        return self.type == StrategyType.SHADOW
