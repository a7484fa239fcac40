"""``spec`` of a ModelPipeline (v1alpha1): what to train, how to judge it, where to serve it.

Each part lives in its own module (code, dataset, training, evaluation, serving); this one
assembles them and re-exports the parts, so ``from modelpipe.api.v1alpha1.spec import X``
keeps working. Field descriptions become ``kubectl explain`` text; CEL rules become
admission errors, so both are written for the person editing the YAML.
"""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from modelpipe.api.config import DEFAULT_TRAINER_IMAGE
from modelpipe.api.durations import DURATION_PATTERN
from modelpipe.api.schedule import CRON_CEL_RULE, MAX_SCHEDULE_LENGTH
from modelpipe.api.v1alpha1._base import (
    DEFAULT_POLL,
    MIN_POLL,
    SpecModel,
    validations,
)
from modelpipe.api.v1alpha1.artifacts import (
    NEEDS_TEMPLATE,
    S3_NEEDS_TEMPLATE_RULE,
    ArtifactsSpec,
    S3Artifacts,
)
from modelpipe.api.v1alpha1.code import CodeSpec, CodeTest, GitSource
from modelpipe.api.v1alpha1.dataset import (
    DEFAULT_MAX_BYTES,
    DataSchema,
    DatasetFile,
    DatasetSpec,
    Feature,
)
from modelpipe.api.v1alpha1.evaluation import (
    KNOWN_METRICS,
    Champion,
    EvaluationSpec,
    Significance,
    Threshold,
    misfit_metrics,
    misfit_test,
    task_fit_rules,
)
from modelpipe.api.v1alpha1.notify import NotifySpec, SecretKeyRef, Webhook
from modelpipe.api.v1alpha1.resources import Quantity, Resources
from modelpipe.api.v1alpha1.serving import Probe, ServingSpec, ServingTemplate
from modelpipe.api.v1alpha1.training import Estimator, TrainingSpec


class TriggersSpec(SpecModel):
    """Debouncing of automatic runs (followed sources and the schedule); spec edits run at once."""

    min_interval: str | None = Field(
        default=None,
        max_length=32,
        pattern=DURATION_PATTERN,
        description="Least time between the starts of two automatic runs, e.g. 10m.",
    )
    quiet_period: str | None = Field(
        default=None,
        max_length=32,
        pattern=DURATION_PATTERN,
        description="Wait until no new change was seen for this long, so a burst of pushes "
        "or files starts one run (at most ten quiet periods after the first change).",
    )


class ModelPipelineSpec(SpecModel):
    """Train on every code or data change, gate on metrics, promote to serving."""

    code: CodeSpec
    dataset: DatasetSpec
    training: TrainingSpec
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    serving: ServingSpec
    artifacts: ArtifactsSpec
    suspend: bool = Field(default=False, description="Start no new runs and promote nothing.")
    schedule: str | None = Field(
        default=None,
        max_length=MAX_SCHEDULE_LENGTH,
        description="Cron schedule (5 fields, UTC, or @daily etc.) that retrains on the current "
        "inputs, e.g. '0 2 * * *'.",
        json_schema_extra=validations(CRON_CEL_RULE),
    )
    triggers: TriggersSpec | None = Field(default=None, description="Debouncing of automatic runs.")
    notify: NotifySpec | None = Field(
        default=None,
        description="Webhooks told about promotions, rollbacks, failed runs and failing sources.",
    )
    history_limit: int = Field(
        default=10, ge=1, le=50, description="Runs kept in status.history and finished Jobs kept."
    )

    model_config = ConfigDict(
        json_schema_extra=validations(*task_fit_rules(), S3_NEEDS_TEMPLATE_RULE)
    )

    @model_validator(mode="after")
    def _metrics_fit_task(self) -> Self:
        misfits = misfit_metrics(self.evaluation, self.training.task)
        if misfits:
            raise ValueError(
                f"evaluation metric {', '.join(misfits)} does not fit training.task "
                f"{self.training.task}"
            )
        problem = misfit_test(self.evaluation, self.training.task)
        if problem:
            raise ValueError(problem)
        if self.artifacts.s3 is not None and self.serving.template is None:
            raise ValueError(NEEDS_TEMPLATE)
        return self


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_POLL",
    "DEFAULT_TRAINER_IMAGE",
    "KNOWN_METRICS",
    "MIN_POLL",
    "ArtifactsSpec",
    "Champion",
    "CodeSpec",
    "CodeTest",
    "DataSchema",
    "DatasetFile",
    "DatasetSpec",
    "Estimator",
    "EvaluationSpec",
    "Feature",
    "GitSource",
    "ModelPipelineSpec",
    "NotifySpec",
    "Probe",
    "Quantity",
    "Resources",
    "S3Artifacts",
    "SecretKeyRef",
    "ServingSpec",
    "ServingTemplate",
    "Significance",
    "Threshold",
    "TrainingSpec",
    "TriggersSpec",
    "Webhook",
]
