"""The JSON documents in a model directory, beside the skops file.

    <artifactsDir>/<modelVersion>/
        model.skops    the fitted Pipeline (skops, never pickle)
        model.onnx     the same Pipeline as an ONNX graph, only when verified (see onnx_export)
        manifest.json  sha256 and size of every other file
        schema.json    what a request must look like: the server validates against it
        metrics.json   holdout metrics of this model and of the champion it was compared with
        lineage.json   where the model came from: code, data hash, params, versions, times

They are typed here so that the trainer that writes them and the server that
reads them cannot disagree about a field name.
"""

from __future__ import annotations

from typing import Any, TypeVar

from modelpipe_contract.result import Significance
from modelpipe_contract.runconfig import FeatureSpec, Task
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelpipe_trainer.errors import ModelRejectedError

MODEL_FILE = "model.skops"
ONNX_FILE = "model.onnx"
SCHEMA_FILE = "schema.json"
METRICS_FILE = "metrics.json"
LINEAGE_FILE = "lineage.json"


class Document(BaseModel):
    # Unknown fields are ignored so an older server can read a newer trainer's files.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, indent=2).encode() + b"\n"


class ModelSchema(Document):
    task: Task
    target: str
    features: list[FeatureSpec]
    # Class labels in the order of predict_proba's columns; empty for regression.
    classes: list[Any] = Field(default_factory=list)


class OnnxRecord(Document):
    """How the ONNX conversion went: served by onnxruntime only when ``verified``."""

    converted: bool
    verified: bool = False
    # Why the model is served by scikit-learn instead; None when verified.
    reason: str | None = None
    max_difference: float | None = Field(
        default=None,
        alias="maxDifference",
        description="largest |onnx - sklearn| over the holdout's probabilities or predictions",
    )
    rel_tolerance: float = Field(alias="relTolerance")
    abs_tolerance: float = Field(alias="absTolerance")
    summation_tolerance: float = Field(
        default=0.0,
        alias="summationTolerance",
        description="largest per-row allowance added for a tree ensemble's float32 sum"
        " (regressors only; float32_sums)",
    )
    rows: int = Field(default=0, description="holdout rows compared")
    seconds: float = Field(default=0.0, description="conversion and verification time")
    fit_seconds: float = Field(default=0.0, alias="fitSeconds")


class DatasetLineage(Document):
    uri: str
    version: str
    format: str
    sha256: str
    size_bytes: int = Field(alias="sizeBytes")
    rows: int


class Lineage(Document):
    pipeline: str
    model_version: str = Field(alias="modelVersion")
    code_revision: str = Field(alias="codeRevision")
    task: Task
    estimator: str
    params: dict[str, Any]
    seed: int
    test_size: float = Field(alias="testSize")
    dataset: DatasetLineage
    eval_dataset: DatasetLineage | None = Field(default=None, alias="evalDataset")
    rows: dict[str, int]
    libraries: dict[str, str]
    started_at: str = Field(alias="startedAt")
    finished_at: str = Field(alias="finishedAt")
    duration_seconds: float = Field(alias="durationSeconds")
    onnx: OnnxRecord | None = None


class MetricsDocument(Document):
    model_version: str = Field(alias="modelVersion")
    task: Task
    holdout_rows: int = Field(alias="holdoutRows")
    holdout_source: str = Field(alias="holdoutSource", description="split or evalDataset")
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None = Field(default=None, alias="championMetrics")
    champion_path: str | None = Field(default=None, alias="championPath")
    significance: Significance | None = None
    onnx: OnnxRecord | None = None


_D = TypeVar("_D", bound=Document)


def parse_document(data: bytes, kind: type[_D], *, source: str) -> _D:
    """One document of a model directory read from ``source``, or ``ModelRejectedError``
    saying what is wrong. Reading the file is :func:`modelpipe_trainer.modeldir.read_document`.
    """
    try:
        return kind.model_validate_json(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:5]
        )
        raise ModelRejectedError(f"{source} is not a valid {kind.__name__}: {problems}") from None
