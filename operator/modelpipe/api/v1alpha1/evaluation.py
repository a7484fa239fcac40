"""``spec.evaluation``: the gate a candidate must pass to be promoted."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from modelpipe.api.v1alpha1._base import SpecModel, cel, validations
from modelpipe_trainer.contract import HIGHER_IS_BETTER

KNOWN_METRICS: tuple[str, ...] = tuple(sorted(HIGHER_IS_BETTER))
_METRICS_CEL = "[" + ", ".join(f"'{m}'" for m in KNOWN_METRICS) + "]"


class Threshold(SpecModel):
    """A bound a candidate's metric must satisfy."""

    metric: str = Field(
        min_length=1, max_length=64, description=f"Metric name, one of {', '.join(KNOWN_METRICS)}."
    )
    min: float | None = Field(default=None, description="Smallest passing value.")
    max: float | None = Field(default=None, description="Largest passing value.")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                f"self.metric in {_METRICS_CEL}",
                f"threshold metric must be one of: {', '.join(KNOWN_METRICS)}",
            ),
            cel("has(self.min) || has(self.max)", "each threshold needs min, max or both"),
            cel(
                "!has(self.min) || !has(self.max) || self.min <= self.max",
                "threshold min must be less than or equal to max",
            ),
        )
    )


class Champion(SpecModel):
    """Compare the candidate with the production model on the same holdout."""

    metric: str = Field(
        min_length=1, max_length=64, description="Metric compared in its own direction."
    )
    min_improvement: float = Field(
        default=0.0,
        ge=0.0,
        description="Required improvement over production; 0 means at least equal.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                f"self.metric in {_METRICS_CEL}",
                f"champion metric must be one of: {', '.join(KNOWN_METRICS)}",
            ),
        )
    )


class EvaluationSpec(SpecModel):
    """The gate: every threshold must pass, and the champion comparison if given."""

    thresholds: list[Threshold] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Bounds on metrics; one entry per metric. Not a training input: changing them "
            "retrains nothing. The model in production is checked against them with the "
            "metrics it was promoted with; if it falls short, Evaluated=False "
            "ProductionBelowThresholds and one Warning event say so, and it keeps serving "
            "until a retrain (modelpipe.io/retrain) or new inputs pass the gate."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["metric"],
        },
    )
    champion: Champion | None = None
