"""The run configuration: what the operator renders from a ModelPipeline spec.

The trainer reads it from ``--config FILE`` (JSON or YAML) or from the
``MODELPIPE_RUN_CONFIG`` environment variable (JSON). Field names are camelCase
on the wire, like the CRD they come from.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CONFIG_ENV = "MODELPIPE_RUN_CONFIG"
DEFAULT_ALLOWED_PREFIXES = ("sklearn.",)
# The estimators a pipeline may name beyond scikit-learn's own classes: the scikit-learn
# interfaces of XGBoost and LightGBM, by exact name (docs/trainer.md, "Estimators"). The
# CRD's CEL rule on estimator.className and the trainer's resolver both read this list.
BOOSTING_ESTIMATORS = (
    "xgboost.XGBClassifier",
    "xgboost.XGBRegressor",
    "lightgbm.LGBMClassifier",
    "lightgbm.LGBMRegressor",
)


def is_accepted_estimator(
    class_path: str, allowed_prefixes: tuple[str, ...] | list[str] = DEFAULT_ALLOWED_PREFIXES
) -> bool:
    """A boosting estimator named above, or a class under an allowed prefix."""
    return class_path in BOOSTING_ESTIMATORS or class_path.startswith(tuple(allowed_prefixes))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class FeatureKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class DatasetRef(_Model):
    uri: str = Field(description="file://, http(s):// or a plain path")
    version: str = Field(description="Version label recorded in lineage")
    format: Literal["csv", "parquet"] | None = Field(
        default=None, description="Inferred from the URI's extension when omitted"
    )


class FeatureSpec(_Model):
    name: str = Field(min_length=1)
    kind: FeatureKind = FeatureKind.NUMERIC
    minimum: float | None = Field(default=None, alias="min")
    maximum: float | None = Field(default=None, alias="max")
    allowed_values: list[str] | None = Field(default=None, alias="allowedValues")
    max_null_fraction: float = Field(default=0.0, ge=0.0, le=1.0, alias="maxNullFraction")


class SchemaSpec(_Model):
    target: str = Field(min_length=1)
    features: list[FeatureSpec] = Field(min_length=1)
    min_rows: int = Field(default=10, ge=1, alias="minRows")
    null_values: list[str] = Field(
        default_factory=lambda: [""],
        alias="nullValues",
        description="CSV fields read as null, exactly as written; default: only the empty field",
    )


class EstimatorSpec(_Model):
    class_path: str = Field(
        alias="className", description="Import path, e.g. sklearn.linear_model.LogisticRegression"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    allowed_prefixes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_PREFIXES), alias="allowedPrefixes"
    )


MCNEMAR_ON_REGRESSION = (
    "significance test mcNemar compares right and wrong answers; a regression needs pairedBootstrap"
)


class SignificanceTest(StrEnum):
    PAIRED_BOOTSTRAP = "pairedBootstrap"
    MCNEMAR = "mcNemar"


class SignificanceConfig(_Model):
    """Test that the candidate beats the champion on the same holdout rows (``evaluation``
    module): the operator renders it from ``spec.evaluation.champion``."""

    test: SignificanceTest = SignificanceTest.PAIRED_BOOTSTRAP
    metric: str = Field(min_length=1, description="The champion metric the bootstrap resamples")
    min_improvement: float = Field(default=0.0, ge=0.0, alias="minImprovement")
    alpha: float = Field(default=0.05, gt=0.0, le=0.5)
    resamples: int = Field(default=1000, ge=100, le=10000)


class ThresholdSpec(_Model):
    """A gate bound (spec.evaluation.thresholds), shown in the report; the operator gates."""

    metric: str
    minimum: float | None = Field(default=None, alias="min")
    maximum: float | None = Field(default=None, alias="max")


class RepoEstimator(_Model):
    class_path: str = Field(alias="className", min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class RepoTrainingConfig(_Model):
    """Training settings a code repository carries (``spec.code.git.configFile``).

    Only the estimator: which estimator classes may be built (``allowedPrefixes``) stays
    with the run config the operator renders, so a commit cannot widen it.
    """

    estimator: RepoEstimator


class RunConfig(_Model):
    pipeline: str = Field(default="local", description="Owning ModelPipeline's name")
    model_version: str = Field(alias="modelVersion", min_length=1)
    code_revision: str = Field(default="unknown", alias="codeRevision")
    task: Task = Task.CLASSIFICATION
    dataset: DatasetRef
    eval_dataset: DatasetRef | None = Field(default=None, alias="evalDataset")
    data_schema: SchemaSpec = Field(alias="schema")
    estimator: EstimatorSpec
    seed: int = 0
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0, alias="testSize")
    # The model is written to <artifactsDir>/<modelVersion>/ (atomically).
    artifacts_dir: str = Field(alias="artifactsDir")
    # Directory of the production model, to evaluate on the same holdout.
    champion_path: str | None = Field(default=None, alias="championPath")
    max_download_bytes: int = Field(default=1 << 30, gt=0, alias="maxDownloadBytes")
    termination_message_path: str = Field(
        default="/dev/termination-log", alias="terminationMessagePath"
    )
    # Given with championPath: the comparison must be significant, not only a gain.
    significance: SignificanceConfig | None = None
    # The gate's thresholds, for the report only (report.html); the operator decides.
    thresholds: list[ThresholdSpec] = Field(default_factory=list)
    # A RepoTrainingConfig YAML file in the code checkout; its estimator replaces ``estimator``.
    training_config_path: str | None = Field(default=None, alias="trainingConfigPath")

    @model_validator(mode="after")
    def _target_not_a_feature(self) -> RunConfig:
        names = [f.name for f in self.data_schema.features]
        if self.data_schema.target in names:
            raise ValueError(
                f"target column {self.data_schema.target!r} is also listed as a feature"
            )
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        test = self.significance.test if self.significance else None
        if test is SignificanceTest.MCNEMAR and self.task is Task.REGRESSION:
            raise ValueError(MCNEMAR_ON_REGRESSION)
        return self
