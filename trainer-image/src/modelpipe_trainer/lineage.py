"""Building the documents that describe a trained model (pure: inputs in, documents out)."""

from __future__ import annotations

import platform
from datetime import datetime
from importlib import metadata

from modelpipe_contract.runconfig import RunConfig

from modelpipe_trainer.datasets import Dataset
from modelpipe_trainer.documents import DatasetLineage, Lineage, ModelSchema, OnnxRecord

_LIBRARIES = (
    "modelpipe-trainer",
    "scikit-learn",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "skops",
    "skl2onnx",
    "onnx",
    "onnxruntime",
    "xgboost-cpu",
    "lightgbm",
)


def library_versions() -> dict[str, str]:
    """Versions that decide whether a model reproduces; recorded in every lineage."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def dataset_lineage(dataset: Dataset) -> DatasetLineage:
    return DatasetLineage(
        uri=dataset.ref.uri,
        version=dataset.ref.version,
        format=dataset.format,
        sha256=dataset.sha256,
        size_bytes=dataset.size_bytes,
        rows=len(dataset.frame),
    )


def build_lineage(
    *,
    config: RunConfig,
    params: dict[str, object],
    train: Dataset,
    evaluation: Dataset | None,
    rows: dict[str, int],
    started: datetime,
    finished: datetime,
    onnx: OnnxRecord | None = None,
) -> Lineage:
    return Lineage(
        pipeline=config.pipeline,
        model_version=config.model_version,
        code_revision=config.code_revision,
        task=config.task,
        estimator=config.estimator.class_path,
        params=params,
        seed=config.seed,
        test_size=config.test_size,
        dataset=dataset_lineage(train),
        eval_dataset=dataset_lineage(evaluation) if evaluation is not None else None,
        rows=rows,
        libraries=library_versions(),
        started_at=started.isoformat(),
        finished_at=finished.isoformat(),
        duration_seconds=round((finished - started).total_seconds(), 3),
        onnx=onnx,
    )


def build_schema(config: RunConfig, classes: list[object]) -> ModelSchema:
    return ModelSchema(
        task=config.task,
        target=config.data_schema.target,
        features=config.data_schema.features,
        classes=classes,
    )
