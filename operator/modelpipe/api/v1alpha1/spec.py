"""``spec`` of a ModelPipeline (v1alpha1): what to train, how to judge it, where to serve it.

Field descriptions become ``kubectl explain`` text; CEL rules become admission errors,
so both are written for the person editing the YAML.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import ConfigDict, Field

from modelpipe.api.v1alpha1._base import SpecModel, cel, validations
from modelpipe.sources.durations import DURATION_PATTERN, cel_minimum
from modelpipe.sources.schedule import CRON_CEL_RULE, MAX_SCHEDULE_LENGTH
from modelpipe_trainer.config import FeatureKind, Task
from modelpipe_trainer.contract import HIGHER_IS_BETTER

DEFAULT_TRAINER_IMAGE = "ghcr.io/modelpipe/modelpipe-trainer:0.1.0"
# Set by the Helm chart (values trainer.image / server.image) on the operator pod.
TRAINER_IMAGE_ENV = "MODELPIPE_TRAINER_IMAGE"
SERVER_IMAGE_ENV = "MODELPIPE_SERVER_IMAGE"


def configured_trainer_image() -> str:
    """The operator's trainer image: what ``spec.code.image`` means when omitted."""
    return os.environ.get(TRAINER_IMAGE_ENV) or DEFAULT_TRAINER_IMAGE


def configured_server_image() -> str | None:
    """The operator's serving image, if configured; else serving uses ``spec.code.image``."""
    return os.environ.get(SERVER_IMAGE_ENV) or None


KNOWN_METRICS: tuple[str, ...] = tuple(sorted(HIGHER_IS_BETTER))
_METRICS_CEL = "[" + ", ".join(f"'{m}'" for m in KNOWN_METRICS) + "]"
_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
Quantity = int | str
DEFAULT_POLL = "1m"
MIN_POLL = "1s"
DEFAULT_MAX_BYTES = 1 << 30


class GitSource(SpecModel):
    """A git repository cloned by an init container at ``spec.code.revision``."""

    url: str = Field(
        min_length=1, max_length=2048, description="Clone URL (https://, ssh or file://)."
    )
    path: str = Field(
        default=".",
        max_length=512,
        description="Directory inside the repository the trainer and the code test run in.",
    )
    config_file: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="YAML file in the repository (path from its root), e.g. train.yaml, holding "
        "`estimator: {className, params}`; it replaces spec.training.estimator, so the "
        "model's settings are versioned with its code. A missing or invalid file fails the "
        "run (TrainingFailed).",
        json_schema_extra=validations(
            cel(
                "!self.startsWith('/') && !self.contains('..')",
                "git.configFile must be a relative path inside the repository, without '..'",
            ),
        ),
    )
    ref: str | None = Field(
        default=None,
        max_length=256,
        description="Branch or tag to follow: its head commit becomes the revision "
        "unless spec.code.revision pins one. A new commit starts a run.",
    )
    poll_interval: str | None = Field(
        default=None,
        max_length=32,
        pattern=DURATION_PATTERN,
        description=f"How often the ref is checked, e.g. 30s or 5m. Default {DEFAULT_POLL}.",
        json_schema_extra=validations(cel_minimum(MIN_POLL, "git.pollInterval")),
    )
    credentials_secret: str | None = Field(
        default=None,
        max_length=253,
        pattern=_NAME,
        description="Secret in the pipeline's namespace with username and password, or token "
        "(sent as the password), for an https URL. Never logged.",
    )


class CodeTest(SpecModel):
    """A command run before training, e.g. the repository's unit tests; failure blocks training."""

    command: list[str] = Field(
        min_length=1, max_length=64, description="Command and arguments, run in the code directory."
    )
    image: str | None = Field(
        default=None,
        max_length=512,
        description="Image to run the test in. Defaults to spec.code.image.",
    )


class CodeSpec(SpecModel):
    """The training code: a revision, the image that runs it and optionally a git checkout."""

    revision: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Git SHA or any version string; part of the input hash. Pinned: wins "
        "over the commit resolved from git.ref. Required unless git.ref is set.",
    )
    image: str = Field(
        default_factory=configured_trainer_image,
        min_length=1,
        max_length=512,
        description="Trainer image; it must provide the modelpipe-trainer command. Defaults "
        "to the operator's configured trainer image (Helm value trainer.image).",
    )
    git: GitSource | None = Field(
        default=None, description="Clone this repository at the revision."
    )
    test: CodeTest | None = Field(default=None, description="Validate the code before training.")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.revision) || (has(self.git) && has(self.git.ref))",
                "set code.revision (a pinned version) or code.git.ref (a branch or tag to follow)",
            ),
        )
    )


class DatasetFile(SpecModel):
    """An evaluation dataset, used instead of a random split of the training data."""

    uri: str = Field(min_length=1, max_length=2048, description="file://, http(s):// or a path.")
    version: str = Field(
        min_length=1, max_length=128, description="Version label recorded in lineage."
    )
    format: Literal["csv", "parquet"] | None = Field(
        default=None, description="File format; inferred from the URI's extension when omitted."
    )


class Feature(SpecModel):
    """One input column and the checks its values must pass."""

    name: str = Field(min_length=1, max_length=253, description="Column name.")
    kind: FeatureKind = Field(default=FeatureKind.NUMERIC, description="numeric or categorical.")
    min: float | None = Field(default=None, description="Smallest allowed value (numeric).")
    max: float | None = Field(default=None, description="Largest allowed value (numeric).")
    allowed_values: list[str] | None = Field(
        default=None, max_length=1024, description="Allowed values (categorical)."
    )
    max_null_fraction: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Largest tolerated fraction of missing values."
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.min) || !has(self.max) || self.min <= self.max",
                "feature min must be less than or equal to max",
            ),
        )
    )


class DataSchema(SpecModel):
    """The columns the trainer validates before training."""

    target: str = Field(min_length=1, max_length=253, description="Label column.")
    features: list[Feature] = Field(
        min_length=1,
        max_length=256,
        description="Feature columns; names are unique.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    min_rows: int = Field(default=10, ge=1, description="Fewest rows accepted.")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!self.features.exists(f, f.name == self.target)",
                "schema.target must not also be listed in schema.features",
            ),
        )
    )


class DatasetSpec(SpecModel):
    """The training data: where it is, which version, and what it must look like."""

    uri: str = Field(
        min_length=1,
        max_length=2048,
        description="file://, http(s)://, a path, or pvc://<claim>/<path> (a file or "
        "directory on a PersistentVolumeClaim of the namespace, mounted read-only for training).",
    )
    version: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Dataset version; a new version trains a new model. Pinned: wins over the "
        "version resolved from an http(s) or pvc:// URI or manifestUri, which is followed "
        "when unset.",
    )
    format: Literal["csv", "parquet"] | None = Field(
        default=None, description="File format; inferred from the URI's extension when omitted."
    )
    evaluation: DatasetFile | None = Field(default=None, description="Separate evaluation dataset.")
    schema_: DataSchema = Field(alias="schema", description="Target and feature columns.")
    manifest_uri: str | None = Field(
        default=None,
        max_length=2048,
        description="http(s) URL of a JSON/YAML manifest listing the data files and their "
        "hashes (or a DVC .dvc file); when set, its entries' hash is the followed version.",
    )
    poll_interval: str | None = Field(
        default=None,
        max_length=32,
        pattern=DURATION_PATTERN,
        description=f"How often a followed dataset is checked. Default {DEFAULT_POLL}.",
        json_schema_extra=validations(cel_minimum(MIN_POLL, "dataset.pollInterval")),
    )
    max_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Largest dataset accepted, in bytes; larger files are refused rather than "
        f"downloaded. Default {DEFAULT_MAX_BYTES}.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.version) || has(self.manifestUri) || self.uri.startsWith('http://') "
                "|| self.uri.startsWith('https://') || self.uri.startsWith('pvc://')",
                "dataset.version is required unless dataset.uri is http(s) or pvc:// or "
                "manifestUri is set (then the version is followed)",
            ),
        )
    )


class Estimator(SpecModel):
    """A scikit-learn estimator class and its constructor parameters."""

    class_name: str = Field(
        min_length=1,
        max_length=256,
        description="Import path, e.g. sklearn.linear_model.LogisticRegression.",
        json_schema_extra=validations(
            cel(
                "self.startsWith('sklearn.')",
                "estimator.className must be a scikit-learn class path such as "
                "sklearn.linear_model.LogisticRegression",
            ),
        ),
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Constructor keyword arguments."
    )


class Resources(SpecModel):
    """Compute resources of the training container."""

    requests: dict[str, Quantity] | None = Field(
        default=None, description="e.g. {cpu: 500m, memory: 1Gi}"
    )
    limits: dict[str, Quantity] | None = Field(default=None, description="e.g. {memory: 2Gi}")


class TrainingSpec(SpecModel):
    """How to train: the estimator and the Job's runtime settings."""

    estimator: Estimator
    task: Task = Field(default=Task.CLASSIFICATION, description="classification or regression.")
    seed: int = Field(default=0, ge=0, description="Random seed for the split and the estimator.")
    test_split: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Holdout fraction, between 0 and 1 exclusive."
    )
    resources: Resources | None = None
    backoff_limit: int = Field(default=1, ge=0, le=10, description="Retries of a crashed trainer.")
    active_deadline_seconds: int = Field(
        default=3600, ge=1, description="Wall-clock limit of a run."
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Delete finished Jobs after this long; kept by default."
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=_NAME,
        description="Service account of the training pod.",
    )


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
        description="Bounds on metrics; one entry per metric.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["metric"],
        },
    )
    champion: Champion | None = None


class Probe(SpecModel):
    """Readiness probe timings of the serving container (path /v2/health/ready)."""

    initial_delay_seconds: int = Field(default=1, ge=0)
    period_seconds: int = Field(default=2, ge=1)
    timeout_seconds: int = Field(default=2, ge=1)
    failure_threshold: int = Field(default=3, ge=1)


class ServingTemplate(SpecModel):
    """The Deployment and Service the operator creates and owns."""

    image: str | None = Field(
        default=None,
        max_length=512,
        description="Serving image. Defaults to spec.code.image when that is set, else to the "
        "operator's configured server image (Helm value server.image).",
    )
    command: list[str] | None = Field(
        default=None,
        max_length=64,
        description="Command; defaults to modelpipe-trainer serve. Required with a custom image.",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Container and Service port.")
    resources: Resources | None = None
    service_account_name: str | None = Field(
        default=None, max_length=253, pattern=_NAME, description="Service account of serving pods."
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


class ServingSpec(SpecModel):
    """Where the promoted model serves: an existing Deployment or one the operator creates."""

    deployment_name: str | None = Field(
        default=None, max_length=253, pattern=_NAME, description="Existing Deployment to update."
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
        pattern=_NAME,
        description="Model name in the inference API; defaults to the pipeline name.",
    )
    replicas: int = Field(default=1, ge=0, le=100, description="Replicas of a created Deployment.")
    readiness_probe: Probe = Field(default_factory=Probe)
    progress_deadline_seconds: int = Field(
        default=120, ge=5, description="Rollouts slower than this are rolled back."
    )
    pinned_version: str | None = Field(
        default=None,
        max_length=64,
        description="Serve this model version from history and stop automatic promotion.",
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
        )
    )


class ArtifactsSpec(SpecModel):
    """Where models live: a PVC mounted by training and serving, laid out <pipeline>/<version>/."""

    pvc: str = Field(
        min_length=1, max_length=253, pattern=_NAME, description="PersistentVolumeClaim name."
    )


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
    history_limit: int = Field(
        default=10, ge=1, le=50, description="Runs kept in status.history and finished Jobs kept."
    )
