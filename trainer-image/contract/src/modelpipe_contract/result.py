"""The trainer's result document: the one typed contract between trainer and operator.

The trainer writes it (compact JSON) to the pod's termination-message path and to
stdout; the operator reads it back from ``state.terminated.message``. Kubernetes
keeps at most 4096 bytes of that message, so :meth:`TrainerResult.to_message`
drops validation failures (keeping a count), then the null counts, until the
document fits.

Compatibility: ``schemaVersion`` stays ``v1`` while changes are additive (a new
optional field); readers ignore fields they do not know, so an operator can read
a newer trainer's result. Removing a field or changing its meaning is ``v2``.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION: Literal["modelpipe.io/trainer-result/v1"] = "modelpipe.io/trainer-result/v1"
MAX_MESSAGE_BYTES = 4096
MAX_SUMMARY_CHARS = 512
MAX_FAILURE_CHARS = 300


class Outcome(StrEnum):
    SUCCEEDED = "Succeeded"
    INVALID_CONFIG = "InvalidConfig"
    VALIDATION_FAILED = "ValidationFailed"
    TRAINING_FAILED = "TrainingFailed"
    ARTIFACT_WRITE_FAILED = "ArtifactWriteFailed"


class ServingRuntime(StrEnum):
    """What ``serve`` will run a model with: the operator sets the rollout deadline by it."""

    ONNX = "onnxruntime"  # the trainer verified the ONNX graph against the model
    SKLEARN = "scikit-learn"  # no verified graph: the server imports scikit-learn


class ExitCode(IntEnum):
    """Process exit codes; 1 is left for crashes the trainer did not anticipate."""

    OK = 0
    INVALID_CONFIG = 2
    VALIDATION_FAILED = 3
    TRAINING_FAILED = 4
    ARTIFACT_WRITE_FAILED = 5
    # ``serve`` only: the model directory is missing, corrupt or holds untrusted types.
    MODEL_REJECTED = 6


EXIT_CODES: dict[Outcome, ExitCode] = {
    Outcome.SUCCEEDED: ExitCode.OK,
    Outcome.INVALID_CONFIG: ExitCode.INVALID_CONFIG,
    Outcome.VALIDATION_FAILED: ExitCode.VALIDATION_FAILED,
    Outcome.TRAINING_FAILED: ExitCode.TRAINING_FAILED,
    Outcome.ARTIFACT_WRITE_FAILED: ExitCode.ARTIFACT_WRITE_FAILED,
}

# Direction of every metric the trainer reports: True when higher is better.
CLASSIFICATION_METRICS: dict[str, bool] = {
    "accuracy": True,
    "balanced_accuracy": True,
    "f1_macro": True,
    "precision_macro": True,
    "recall_macro": True,
    "roc_auc": True,
    "log_loss": False,
}
REGRESSION_METRICS: dict[str, bool] = {"rmse": False, "mae": False, "r2": True}
HIGHER_IS_BETTER: dict[str, bool] = {**CLASSIFICATION_METRICS, **REGRESSION_METRICS}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ValidationFailure(_Model):
    """One failed check; the report lists every failure, not only the first."""

    check: str = Field(description="Check name, e.g. column_present, max_null_fraction")
    column: str | None = None
    message: str


class RowCounts(_Model):
    total: int = 0
    train: int = 0
    test: int = 0


class Significance(_Model):
    """The candidate against the champion on the same holdout rows (``significance`` module).

    ``improvement`` is in the metric's better direction (positive: the candidate is better);
    ``interval`` is its central ``1 - 2*alpha`` interval, so its low end is the one-sided
    bound the test uses.
    """

    test: str
    metric: str = Field(description="The metric compared; accuracy for mcNemar")
    improvement: float
    p_value: float = Field(alias="pValue", description="One-sided: the candidate is no better")
    interval: tuple[float, float]
    alpha: float
    resamples: int = Field(default=0, description="Bootstrap resamples used; 0 for mcNemar")


class TrainerResult(BaseModel):
    # Not _Model: a reader must accept fields a newer trainer added (see the docstring).
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_version: Literal["modelpipe.io/trainer-result/v1"] = Field(
        default=SCHEMA_VERSION, alias="schemaVersion"
    )
    outcome: Outcome
    message: str = ""
    model_version: str | None = Field(default=None, alias="modelVersion")
    # Path of the model directory, as seen inside the training pod.
    artifact_path: str | None = Field(default=None, alias="artifactPath")
    code_revision: str | None = Field(default=None, alias="codeRevision")
    dataset_version: str | None = Field(default=None, alias="datasetVersion")
    data_hash: str | None = Field(default=None, alias="dataHash", description="sha256 hex")
    rows: RowCounts | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    # The production model's metrics on the same holdout, when a champion was given.
    champion_metrics: dict[str, float] | None = Field(default=None, alias="championMetrics")
    # Given when the run config asked for a significance test and a champion was scored.
    significance: Significance | None = None
    # On success: which runtime will serve the model and why (onnxruntime, or scikit-learn
    # with the reason the ONNX graph was not verified). The operator adds it to lastRun.
    serving: str | None = None
    # The same as a value (optional, v1-additive; a trainer from before sends none): the
    # operator's default rollout deadline is short for onnxruntime (planning.deadline).
    serving_runtime: ServingRuntime | None = Field(default=None, alias="servingRuntime")
    failures: list[ValidationFailure] = Field(default_factory=list)
    failures_truncated: int = Field(default=0, alias="failuresTruncated")
    null_counts: dict[str, dict[str, int]] | None = Field(
        default=None,
        alias="nullCounts",
        description="Per dataset role (dataset, evalDataset): the nulls read in each declared "
        "column that has any (schema.nullValues decides what is null in a CSV)",
    )

    @field_validator("serving_runtime", mode="before")
    @classmethod
    def _known_runtime(cls, value: object) -> object:
        """A runtime a newer trainer added reads as not known (the long deadline), not as
        an unusable result; so does any other JSON value (a list is not even hashable)."""
        return (
            value if isinstance(value, str) and value in {r.value for r in ServingRuntime} else None
        )

    def to_message(self) -> str:
        """Compact JSON that fits Kubernetes' termination-message limit.

        Shortened in this order: long messages are clipped, then failures dropped from
        the end (counted in ``failuresTruncated``), then the null counts dropped.
        """
        doc = self.model_copy(deep=True)
        text = doc._dump()
        if _too_long(text):
            doc.message = _clip(doc.message, MAX_SUMMARY_CHARS)
            for item in doc.failures:
                item.message = _clip(item.message, MAX_FAILURE_CHARS)
            text = doc._dump()
        while _too_long(text) and doc.failures:
            doc.failures.pop()
            doc.failures_truncated += 1
            text = doc._dump()
        if _too_long(text):
            doc.null_counts = None
            text = doc._dump()
        return text

    def _dump(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def from_message(cls, text: str) -> TrainerResult:
        return cls.model_validate_json(text)


def _too_long(text: str) -> bool:
    return len(text.encode()) > MAX_MESSAGE_BYTES


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
