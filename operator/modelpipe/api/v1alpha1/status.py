"""``status`` of a ModelPipeline (v1alpha1): rebuilt by every reconcile from what it observes.

It answers "what is serving and why" and records everything needed to reproduce each model.
"""

from __future__ import annotations

from typing import Literal

from modelpipe_contract.result import ServingRuntime
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from modelpipe.api.v1alpha1._base import StatusModel
from modelpipe.api.v1alpha1.enums import Reason, RunPhase, Verdict
from modelpipe.api.v1alpha1.notify import NOTIFICATIONS_KEPT, Notification

HISTORY_MAX = 50


class SourceStatus(BaseModel):
    """One followed source: what it resolved to, when it was checked, and its last error."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    name: str = Field(description="Which input it feeds: code, dataset or manifest.")
    kind: str = Field(description="git, http or manifest.")
    url: str = Field(description="Repository or file URL (never with credentials).")
    ref: str | None = Field(default=None, description="Followed branch or tag (git).")
    resolved: str | None = Field(default=None, description="Last resolved value (SHA, version).")
    resolved_time: str | None = Field(default=None, description="When that value was first seen.")
    last_check_time: str | None = Field(default=None, description="When it was last checked.")
    next_check_time: str | None = Field(default=None, description="When it is checked next.")
    reason: str | None = Field(default=None, description="Why the last check failed.")
    error: str | None = Field(default=None, description="The last check's error, if it failed.")
    consecutive_failures: int = Field(default=0, description="Failed checks in a row.")

    def where(self) -> str:
        """``code (https://host/repo.git@main)``: which source, for messages."""
        return f"{self.name} ({self.url}{'@' + self.ref if self.ref else ''})"


_CAMEL = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(StatusModel):
    """A Kubernetes API convention condition.

    The operator writes types from ConditionType and reasons from Reason; the schema
    accepts any CamelCase word so other controllers (source polling) can add theirs.
    """

    type: str = Field(
        max_length=316,
        pattern=_CAMEL,
        description="Ready (the summary), Training, Evaluated, Promoted, Degraded or SourcesReady.",
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(
        max_length=1024, pattern=_CAMEL, description="One CamelCase word saying why, for tools."
    )
    message: str = Field(
        default="", max_length=32768, description="What happened and what to do, for humans."
    )
    last_transition_time: str = Field(description="RFC 3339 time of the last status change.")
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation this condition was computed from."
    )


class Inputs(StatusModel):
    """The resolved inputs of the desired model and their hash."""

    code_revision: str = Field(description="Code revision: pinned, or the followed ref's commit.")
    dataset_uri: str = Field(description="Dataset URI the run reads (credentials redacted).")
    dataset_version: str = Field(
        description="Dataset version: pinned, or the followed URI's or manifest's version."
    )
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
    verdict: Verdict | None = Field(
        default=None,
        description="Verdict of the run for these inputs (Running while it trains); absent "
        "until one has started. After a revert it is the earlier run's verdict, not the "
        "last run's.",
    )


class CurrentRun(StatusModel):
    """The run in progress: its Job and where it stands."""

    model_version: str = Field(description="Model version this run trains.")
    job_name: str = Field(description="The training Job (in the pipeline's namespace).")
    input_hash: str = Field(description="Hash of the inputs it trains on (status.inputs.hash).")
    phase: RunPhase = Field(description="Queued, Pending, Running or RollingOut.")
    start_time: str | None = Field(default=None, description="When the Job started (RFC 3339).")
    queue_position: int | None = Field(
        default=None,
        ge=1,
        description="Place in the training queue while Queued (1 starts next), at the last pass.",
    )


class GateCheck(StatusModel):
    """One row of the gate's check table."""

    gate: Literal["threshold", "champion", "significance", "analysis"] = Field(
        description="threshold (spec.evaluation.thresholds), champion (vs production), "
        "significance (spec.evaluation.champion.significance) or analysis (live /metrics "
        "in the bake window, spec.serving.analysis)."
    )
    metric: str = Field(description="Metric checked.")
    bound: str = Field(description="e.g. '>= 0.9' or '>= champion + 0.01'.")
    value: float | None = Field(
        default=None, description="The candidate's value; absent when not reported."
    )
    passed: bool = Field(description="Whether the check passed.")
    message: str = Field(default="", description="Why it failed, when it did.")
    p_value: float | None = Field(
        default=None, description="significance: the one-sided p-value of the gain."
    )
    interval: list[float] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="significance: [low, high] of the improvement over the champion (the "
        "1 - 2*alpha interval; positive is better).",
    )


class Failure(StatusModel):
    """One failed data-validation check reported by the trainer."""

    check: str = Field(description="Check name, e.g. column_present or max_null_fraction.")
    column: str | None = Field(default=None, description="Column checked, if any.")
    message: str = Field(description="What the data violated.")


class RunRecord(StatusModel):
    """A training run: inputs, outcome, metrics and gate table."""

    model_version: str = Field(description="Model version the run trained (its directory).")
    job_name: str = Field(description="The training Job.")
    input_hash: str = Field(description="Hash of the inputs it trained on.")
    code_revision: str | None = Field(default=None, description="Code revision trained from.")
    dataset_version: str | None = Field(default=None, description="Dataset version trained on.")
    data_hash: str | None = Field(default=None, description="sha256 of the bytes the trainer read.")
    model_uri: str | None = Field(
        default=None,
        max_length=1024,
        description="Where the run uploaded the model (spec.artifacts.s3): its own prefix, "
        "s3://<bucket>/<prefix>/<namespace>/<pipeline>/<version>/<Job uid>/.",
    )
    verdict: Verdict = Field(description="How the run ended, e.g. Promoted or GateFailed.")
    reason: Reason | None = Field(default=None, description="Reason behind the verdict.")
    message: str = Field(default="", max_length=4096, description="The verdict, for humans.")
    start_time: str | None = Field(default=None, description="When the Job started.")
    completion_time: str | None = Field(default=None, description="When the Job finished.")
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Holdout metrics of the candidate, by name."
    )
    champion_metrics: dict[str, float] | None = Field(
        default=None, description="Production's metrics on the same holdout, if compared."
    )
    checks: list[GateCheck] = Field(
        default_factory=list, max_length=32, description="The gate's checks, one per row."
    )
    failures: list[Failure] = Field(
        default_factory=list, max_length=64, description="Failed data-validation checks."
    )
    failures_truncated: int = Field(
        default=0, description="Failures left out of the list above (it is bounded)."
    )
    serving_runtime: ServingRuntime | None = Field(
        default=None,
        description="What serves the model, as the trainer verified it: onnxruntime or "
        "scikit-learn. Without spec.serving.progressDeadlineSeconds it sets the rollout "
        "deadline (the operator's default for that runtime).",
    )
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

    model_version: str = Field(description="Model version serving now.")
    code_revision: str | None = Field(
        default=None, description="Code revision it was trained from."
    )
    dataset_version: str | None = Field(
        default=None, description="Dataset version it was trained on."
    )
    data_hash: str | None = Field(
        default=None, description="sha256 of the bytes it was trained on."
    )
    input_hash: str | None = Field(
        default=None, description="Hash of the inputs it was trained on."
    )
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Its holdout metrics, as recorded by its run."
    )
    model_dir: str = Field(description="Its directory in the serving pods.")
    model_uri: str | None = Field(
        default=None,
        max_length=1024,
        description="Where it is in object storage (spec.artifacts.s3), as its run uploaded it.",
    )
    promoted_at: str = Field(description="When it was promoted (RFC 3339).")
    reason: str = Field(description="Why it serves: gate passed, pinned, or rolled back to.")
    replaced_version: str | None = Field(
        default=None,
        description="While its bake window runs (spec.serving.analysis): the model it replaced, "
        "which it is rolled back to if its live /metrics break the limits.",
    )


class CanaryProgress(StatusModel):
    """A canary under way (spec.serving.strategy Canary): which step, since when.

    The step machine resumes from here after a restart (planning.canary); once every
    step passed, ``step`` equals the number of steps while production rolls out.
    """

    model_version: str = Field(description="The candidate running beside production.")
    step: int = Field(description="Index of the step under way (0 is the first).")
    weight: int = Field(description="Its weight: percent of the serving pods.")
    canary_replicas: int = Field(description="Pods of the candidate in this step.")
    stable_replicas: int = Field(description="Pods of production in this step.")
    step_started_at: str = Field(description="When the step began (RFC 3339).")
    ready_at: str | None = Field(
        default=None,
        description="When the step's canary pods were all ready: its pause and its analysis "
        "count from here, so a slow pod start does not eat the step.",
    )


class ShadowProgress(StatusModel):
    """A shadow under way (spec.serving.strategy Shadow): which candidate, since when.

    planning.shadow resumes from here after a restart; ``passedAt`` is set once the
    shadow passed, while production rolls out to the candidate.
    """

    model_version: str = Field(description="The candidate answering copies of the requests.")
    started_at: str = Field(description="When the shadow began (RFC 3339).")
    ready_at: str | None = Field(
        default=None,
        description="When the shadow's pods were all ready: its duration counts from here.",
    )
    passed_at: str | None = Field(
        default=None, description="When it passed: production rolls out to it from then on."
    )


class ModelPipelineStatus(StatusModel):
    """Observed state, rebuilt by each reconcile."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation this status was computed from."
    )
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
    inputs: Inputs | None = Field(
        default=None, description="The resolved inputs of the desired model and their hash."
    )
    sources: list[SourceStatus] = Field(
        default_factory=list,
        max_length=8,
        description="Followed sources: last check, resolved value, error.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    current_run: CurrentRun | None = Field(default=None, description="The run in progress.")
    production: Production | None = Field(
        default=None, description="The model serving now, and why."
    )
    canary: CanaryProgress | None = Field(
        default=None, description="The canary under way (spec.serving.strategy Canary)."
    )
    shadow: ShadowProgress | None = Field(
        default=None, description="The shadow under way (spec.serving.strategy Shadow)."
    )
    last_run: RunRecord | None = Field(
        default=None, description="The newest run (its verdict is Running while it trains)."
    )
    history: list[RunRecord] = Field(
        default_factory=list,
        max_length=HISTORY_MAX,
        description="The runs before lastRun, newest first; with lastRun at most "
        "spec.historyLimit runs.",
    )
    notifications: list[Notification] = Field(
        default_factory=list,
        max_length=NOTIFICATIONS_KEPT,
        description="Webhook deliveries (spec.notify), newest first: what was told to whom "
        "and how it went; a Delivered one is never sent again.",
    )


def all_runs(status: ModelPipelineStatus) -> list[RunRecord]:
    """Every recorded run, newest first: ``lastRun``, then ``history``.

    Each run has one home. A status written by an older operator, whose history began
    with a copy of lastRun, reads the same: that copy is not counted twice.
    """
    if status.last_run is None:
        return list(status.history)
    newest = status.last_run
    return [newest, *(r for r in status.history if r.model_version != newest.model_version)]


def with_runs(status: ModelPipelineStatus, runs: list[RunRecord]) -> ModelPipelineStatus:
    """A copy of ``status`` with ``runs`` (newest first) filed back: the newest to lastRun,
    the rest to history, and the verdict of the run for the current inputs next to them
    (the Verdict column)."""
    inputs = status.inputs
    if inputs is not None:
        version = inputs.model_version
        verdict = next((r.verdict for r in runs if r.model_version == version), None)
        inputs = inputs.model_copy(update={"verdict": verdict})
    return status.model_copy(
        update={"last_run": runs[0] if runs else None, "history": runs[1:], "inputs": inputs}
    )
