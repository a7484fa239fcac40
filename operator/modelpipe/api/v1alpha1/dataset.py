"""``spec.dataset``: where the training data is, which version, and what it must look like."""

from __future__ import annotations

from typing import Annotated, Literal

from modelpipe_contract.runconfig import FeatureKind
from pydantic import ConfigDict, Field, StringConstraints, field_validator

from modelpipe.api.durations import DURATION_PATTERN, cel_minimum
from modelpipe.api.pvcdata import uri_problem
from modelpipe.api.s3data import s3_uri_problem
from modelpipe.api.v1alpha1._base import (
    DEFAULT_POLL,
    MIN_POLL,
    OBJECT_NAME_PATTERN,
    SpecModel,
    cel,
    validations,
)

DEFAULT_MAX_BYTES = 1 << 30
# allowedValues across all features: bounds the spec (see api/bounds.py).
MAX_ALLOWED_VALUES = 1024
CLAIM_NAME = "[a-z0-9]([-a-z0-9.]*[a-z0-9])?"


class DatasetFile(SpecModel):
    """An evaluation dataset, used instead of a random split of the training data."""

    uri: str = Field(
        min_length=1, max_length=2048, description="file://, http(s)://, s3:// or a path."
    )
    version: str = Field(
        min_length=1, max_length=128, description="Version label recorded in lineage."
    )
    format: Literal["csv", "parquet"] | None = Field(
        default=None, description="File format; inferred from the URI's extension when omitted."
    )

    @field_validator("uri")
    @classmethod
    def _usable_s3_uri(cls, uri: str) -> str:
        problem = s3_uri_problem(uri)
        if problem:
            raise ValueError(problem)
        return uri


class Feature(SpecModel):
    """One input column and the checks its values must pass."""

    name: str = Field(min_length=1, max_length=253, description="Column name.")
    kind: FeatureKind = Field(default=FeatureKind.NUMERIC, description="numeric or categorical.")
    min: float | None = Field(default=None, description="Smallest allowed value (numeric).")
    max: float | None = Field(default=None, description="Largest allowed value (numeric).")
    allowed_values: list[Annotated[str, StringConstraints(max_length=128)]] | None = Field(
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
    null_values: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None,
        max_length=64,
        description="CSV field values read as missing, matched exactly (case-sensitive). "
        'Default [""]: only the empty field. Tokens such as "n/a", "NA" or "null" are values, '
        "not missing, unless listed here (a numeric column holding them fails validation); "
        'list "" too to keep empty fields missing, or give [] for none. Missing values are '
        "limited by each feature's maxNullFraction and counted in the run's report. Parquet "
        "has real nulls and ignores this.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!self.features.exists(f, f.name == self.target)",
                "schema.target must not also be listed in schema.features",
            ),
            cel(
                "self.features.map(f, has(f.allowedValues) ? f.allowedValues.size() : 0).sum() "
                f"<= {MAX_ALLOWED_VALUES}",
                f"schema.features may list at most {MAX_ALLOWED_VALUES} allowedValues in all "
                "(the spec must stay small enough to pass to the trainer)",
            ),
        )
    )


class DatasetSpec(SpecModel):
    """The training data: where it is, which version, and what it must look like."""

    uri: str = Field(
        min_length=1,
        max_length=2048,
        description="file://, http(s)://, a path, pvc://<claim>/<path> (a file or "
        "directory on a PersistentVolumeClaim of the namespace, mounted read-only for training), "
        "or s3://<bucket>/<key>[?versionId=<id>] (an object; see credentialsSecret).",
        json_schema_extra=validations(
            cel(
                "!self.startsWith('pvc://') || (self.matches('^pvc://" + CLAIM_NAME + "/[^/]') "
                "&& !self.matches('/[.][.](/|$)'))",
                "dataset.uri pvc://<claim>/<path> needs a claim name and a relative path "
                "inside the claim, without '..'",
            ),
        ),
    )
    version: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Dataset version; a new version trains a new model. Pinned: wins over the "
        "version resolved from an http(s), s3:// or pvc:// URI or manifestUri, which is followed "
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
    credentials_secret: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description="Secret in the pipeline's namespace for s3:// URIs (this dataset's and the "
        "evaluation set's), opted in like a git credentialsSecret: AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, AWS_REGION, "
        "AWS_S3_ADDRESSING_STYLE (path or virtual). Without it the operator checks the object "
        "unsigned and the fetch uses the pod's AWS credential chain. Never logged.",
    )

    @field_validator("uri")
    @classmethod
    def _usable_pvc_uri(cls, uri: str) -> str:
        problem = uri_problem(uri) or s3_uri_problem(uri)
        if problem:
            raise ValueError(problem)
        return uri

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.version) || has(self.manifestUri) || self.uri.startsWith('http://') "
                "|| self.uri.startsWith('https://') || self.uri.startsWith('pvc://') "
                "|| self.uri.startsWith('s3://')",
                "dataset.version is required unless dataset.uri is http(s), s3:// or pvc:// or "
                "manifestUri is set (then the version is followed)",
            ),
            cel(
                "!has(self.credentialsSecret) || self.uri.startsWith('s3://') "
                "|| (has(self.evaluation) && self.evaluation.uri.startsWith('s3://'))",
                "dataset.credentialsSecret is for s3:// URIs only; neither dataset.uri nor "
                "dataset.evaluation.uri is one (an http(s) dataset takes no Secret)",
            ),
        )
    )
