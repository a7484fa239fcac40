"""``status`` of a ModelPipeline (v1alpha1): rebuilt by every reconcile from what it observes.

It answers "what is serving and why" and records everything needed to reproduce each model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from modelpipe.api.v1alpha1._base import StatusModel
from modelpipe.api.v1alpha1.enums import Reason, RunPhase, Verdict
from modelpipe.sources.status import SourceStatus

HISTORY_MAX = 50


_CAMEL = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(StatusModel):
    """A Kubernetes API convention condition.

    The operator writes types from ConditionType and reasons from Reason; the schema
    accepts any CamelCase word so other controllers (source polling) can add theirs.
    """

    type: str = Field(max_length=316, pattern=_CAMEL)
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(max_length=1024, pattern=_CAMEL)
    message: str = Field(default="", max_length=32768)
    last_transition_time: str = Field(description="RFC 3339 time of the last status change.")
    observed_generation: int | None = None


class Inputs(StatusModel):
    """The resolved inputs of the desired model and their hash."""

    code_revision: str
    dataset_uri: str
    dataset_version: str
    retrain_token: str | None = Field(default=None, description="Value of modelpipe.io/retrain.")
    hash: str = Field(description="sha256 of code, data, schema and training settings.")
    model_version: str = Field(description="Model version these inputs train to.")
    observed_at: str | None = Field(default=None, description="When these inputs were first seen.")
    code_revision_from: Literal["Pinned", "Followed"] | None = Field(
        default=None, description="Pinned (spec.code.revision) or Followed (git.ref)."
    )
    code_resolved_at: str | None = Field(
        default=None, description="When the followed ref was first seen at this commit."
    )
    dataset_version_from: Literal["Pinned", "Followed"] | None = Field(
        default=None, description="Pinned (spec.dataset.version) or Followed (uri/manifestUri)."
    )
    dataset_resolved_at: str | None = Field(
        default=None, description="When the followed dataset was first seen at this version."
    )
    schedule_slot: str | None = Field(
        default=None, description="The cron slot these inputs were run for, if scheduled."
    )


class CurrentRun(StatusModel):
    model_version: str
    job_name: str
    input_hash: str
    phase: RunPhase
    start_time: str | None = None


class GateCheck(StatusModel):
    """One row of the gate's check table."""

    gate: Literal["threshold", "champion"]
    metric: str
    bound: str = Field(description="e.g. '>= 0.9' or '>= champion + 0.01'.")
    value: float | None = None
    passed: bool
    message: str = ""


class Failure(StatusModel):
    """One failed data-validation check reported by the trainer."""

    check: str
    column: str | None = None
    message: str


class RunRecord(StatusModel):
    """A training run: inputs, outcome, metrics and gate table."""

    model_version: str
    job_name: str
    input_hash: str
    code_revision: str | None = None
    dataset_version: str | None = None
    data_hash: str | None = None
    verdict: Verdict
    reason: Reason | None = None
    message: str = Field(default="", max_length=4096)
    start_time: str | None = None
    completion_time: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None
    checks: list[GateCheck] = Field(default_factory=list, max_length=32)
    failures: list[Failure] = Field(default_factory=list, max_length=64)
    failures_truncated: int = 0
    rollout_attempts: int = Field(
        default=0, description="Rollouts of this model whose pods missed the progress deadline."
    )
    rollout_retry_at: str | None = Field(
        default=None,
        description="When a rolled-back rollout is tried again (up to 3 rollouts in all); "
        "unset once they are used up: then a new value of the annotation "
        "modelpipe.io/retry-rollout retries.",
    )
    rollout_retry_token: str | None = Field(
        default=None, description="The modelpipe.io/retry-rollout value last acted on."
    )


class Production(StatusModel):
    """The model serving now, and when and why it got there."""

    model_version: str
    code_revision: str | None = None
    dataset_version: str | None = None
    data_hash: str | None = None
    input_hash: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    model_dir: str
    promoted_at: str
    reason: str = Field(description="Why it serves: gate passed, pinned, or rolled back to.")


class ModelPipelineStatus(StatusModel):
    """Observed state, rebuilt by each reconcile."""

    observed_generation: int | None = None
    conditions: list[Condition] = Field(
        default_factory=list,
        description=(
            "Ready=True iff what the current spec asks for serves: the model its inputs "
            "train to (or serving.pinnedVersion) is in production and its Deployment is "
            "available; otherwise Ready=False with a reason saying why those inputs cannot "
            "reach production (GateFailed, ValidationFailed, RolledBack, ...) or what is "
            "under way (JobRunning, RollingOut, WaitingForInputs, ...). Degraded=True iff the "
            "production model's own serving fails (its Deployment missing, unavailable or "
            "stuck). Training, Evaluated (the latest finished run, or production against "
            "tightened thresholds), Promoted and SourcesReady give the detail; "
            "status.production says what serves."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    inputs: Inputs | None = None
    sources: list[SourceStatus] = Field(
        default_factory=list,
        max_length=8,
        description="Followed sources: last check, resolved value, error.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    current_run: CurrentRun | None = None
    production: Production | None = None
    last_run: RunRecord | None = None
    history: list[RunRecord] = Field(
        default_factory=list, max_length=HISTORY_MAX, description="Newest first, bounded."
    )
