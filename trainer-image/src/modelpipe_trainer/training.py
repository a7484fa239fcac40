"""The ``validate`` and ``train`` runs: gather, check, fit, evaluate, write, report.

    config ─▶ estimator built ─▶ data fetched+checked ─▶ champion loaded ─▶ fitted
           ─▶ holdout scored (candidate and champion) ─▶ artifacts written ─▶ result

Each arrow can fail with a ``TrainerError`` whose outcome becomes the result;
everything expensive comes after everything that can be checked cheaply, and no
file is written until the metrics are known to be finite.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from modelpipe_contract.result import (
    Outcome,
    RowCounts,
    ServingRuntime,
    Significance,
    TrainerResult,
)
from modelpipe_contract.runconfig import RunConfig, Task
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from modelpipe_trainer.artifacts import write_model_dir
from modelpipe_trainer.bundle import serialize_model
from modelpipe_trainer.datasets import RunData, gather_data
from modelpipe_trainer.documents import (
    LINEAGE_FILE,
    METRICS_FILE,
    MODEL_FILE,
    ONNX_FILE,
    SCHEMA_FILE,
    Lineage,
    MetricsDocument,
    OnnxRecord,
)
from modelpipe_trainer.errors import ModelRejectedError, TrainerError, failure
from modelpipe_trainer.estimators import build_estimator
from modelpipe_trainer.evaluation import (
    Holdout,
    extra_trusted_prefixes,
    load_champion,
    measure_significance,
    score_candidate,
    score_champion,
)
from modelpipe_trainer.labels import configured
from modelpipe_trainer.lineage import build_lineage, build_schema
from modelpipe_trainer.manifest import MANIFEST_FILE, build_manifest
from modelpipe_trainer.modeling import build_pipeline
from modelpipe_trainer.onnx_export import OnnxExport, export_onnx
from modelpipe_trainer.report import REPORT_FILE, build_report
from modelpipe_trainer.runlog import TRAIN_LOG_FILE, KeptLog, kept_log

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Facts:
    """What the run learned so far, so a failure late in the run still reports it."""

    data_hash: str | None = None
    rows: RowCounts | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None
    significance: Significance | None = None
    artifact_path: str | None = None
    null_counts: dict[str, dict[str, int]] | None = None
    kept_log: KeptLog | None = None
    onnx: OnnxRecord | None = None


def validate(config: RunConfig) -> TrainerResult:
    """Check the estimator and every dataset without training anything."""
    facts = _Facts()
    try:
        build_estimator(config.estimator, task=config.task, seed=config.seed)
        data = gather_data(config)
    except TrainerError as exc:
        return _result(config, facts, exc.outcome, exc.message, exc)
    _record_data(facts, data)
    message = (
        f"validation passed: {len(data.train.frame)} rows, "
        f"{len(config.data_schema.features)} features"
    )
    return _result(config, facts, Outcome.SUCCEEDED, message)


def train(config: RunConfig, *, clock: Clock = _utcnow) -> TrainerResult:
    """Validate, fit, evaluate against the champion, and write the model directory."""
    facts = _Facts()
    started = clock()
    try:
        with kept_log() as facts.kept_log:
            _train(config, facts, started=started, clock=clock)
    except TrainerError as exc:
        return _result(config, facts, exc.outcome, exc.message, exc)
    message = (
        f"trained {config.estimator.class_path} on {facts.rows.train if facts.rows else 0} rows"
    )
    return _result(config, facts, Outcome.SUCCEEDED, message)


def _train(config: RunConfig, facts: _Facts, *, started: datetime, clock: Clock) -> None:
    estimator = build_estimator(config.estimator, task=config.task, seed=config.seed)
    data = gather_data(config)
    _record_data(facts, data)
    log.info("Validated dataset %s (sha256 %s)", config.dataset.uri, facts.data_hash)
    champion = load_champion(config) if config.champion_path else None
    _seed_everything(config.seed)
    train_frame, holdout = _split(config, data)
    facts.rows = RowCounts(
        total=len(data.train.frame), train=len(train_frame), test=len(holdout.target)
    )
    model = build_pipeline(config.data_schema, estimator)
    fit_started = time.perf_counter()
    _fit(model, train_frame, config)
    fit_seconds = time.perf_counter() - fit_started
    candidate = score_candidate(model, holdout, task=config.task)
    facts.metrics = candidate.metrics
    log.info("Scored candidate on %d holdout rows: %s", len(holdout.target), facts.metrics)
    if champion is not None:
        scored = score_champion(champion, holdout, config=config)
        facts.champion_metrics = scored.metrics
        log.info("Scored champion on the same holdout: %s", facts.champion_metrics)
        if config.significance is not None:
            facts.significance = measure_significance(candidate, scored, config=config)
            log.info("Tested the gain over the champion: %s", facts.significance)
    schema = build_schema(config, _json_safe(list(getattr(model, "classes_", []))))
    exported = export_onnx(model, holdout, schema=schema, fit_seconds=fit_seconds)
    facts.onnx = exported.record
    files = _artifact_files(
        config, model, data, facts, holdout, exported, started=started, finished=clock()
    )
    final = write_model_dir(
        artifacts_dir=Path(config.artifacts_dir), version=config.model_version, files=files
    )
    facts.artifact_path = str(final)
    log.info("Wrote model %s to %s", config.model_version, final)


def _split(config: RunConfig, data: RunData) -> tuple[pd.DataFrame, Holdout]:
    features = [f.name for f in config.data_schema.features]
    target = config.data_schema.target
    if data.evaluation is not None:
        held = data.evaluation.frame
        return data.train.frame, Holdout(held[features], held[target], source="evalDataset")
    frame = data.train.frame
    stratify = frame[target] if config.task is Task.CLASSIFICATION else None
    train_part, held = train_test_split(
        frame, test_size=config.test_size, random_state=config.seed, stratify=stratify
    )
    return train_part, Holdout(held[features], held[target], source="split")


def _fit(model: Pipeline, frame: pd.DataFrame, config: RunConfig) -> None:
    features = [f.name for f in config.data_schema.features]
    try:
        model.fit(frame[features], frame[config.data_schema.target])
    except Exception as exc:  # estimator code can raise anything
        raise TrainerError(
            Outcome.TRAINING_FAILED,
            f"{config.estimator.class_path} failed to fit: {type(exc).__name__}: {exc}",
        ) from None


def _artifact_files(
    config: RunConfig,
    model: Pipeline,
    data: RunData,
    facts: _Facts,
    holdout: Holdout,
    exported: OnnxExport,
    *,
    started: datetime,
    finished: datetime,
) -> dict[str, bytes]:
    classes = _json_safe(list(getattr(model, "classes_", [])))
    lineage = build_lineage(
        config=config,
        params=_json_safe(configured(model.named_steps["estimator"]).get_params(deep=False)),
        train=data.train,
        evaluation=data.evaluation,
        rows=facts.rows.model_dump() if facts.rows else {},
        started=started,
        finished=finished,
        onnx=exported.record,
    )
    metrics = MetricsDocument(
        model_version=config.model_version,
        task=config.task,
        holdout_rows=len(holdout.target),
        holdout_source=holdout.source,
        metrics=facts.metrics,
        champion_metrics=facts.champion_metrics,
        champion_path=config.champion_path,
        significance=facts.significance,
        onnx=exported.record,
    )
    files = {
        MODEL_FILE: _serialize(model, config),
        SCHEMA_FILE: build_schema(config, classes).to_json(),
        METRICS_FILE: metrics.to_json(),
        LINEAGE_FILE: lineage.to_json(),
    }
    report = _report(config, model, data, holdout, lineage=lineage, metrics=metrics)
    if report is not None:
        files[REPORT_FILE] = report
    if facts.kept_log is not None:
        log.info("Writing model %s to %s", config.model_version, config.artifacts_dir)
        files[TRAIN_LOG_FILE] = facts.kept_log.text()
    if exported.data is not None:
        files[ONNX_FILE] = exported.data
    return {**files, MANIFEST_FILE: build_manifest(files)}


def _report(
    config: RunConfig,
    model: Pipeline,
    data: RunData,
    holdout: Holdout,
    *,
    lineage: Lineage,
    metrics: MetricsDocument,
) -> bytes | None:
    """The run report, or None: a report that cannot be drawn must not cost the model."""
    try:
        report = build_report(
            config=config, model=model, data=data, holdout=holdout, lineage=lineage, metrics=metrics
        )
    except Exception as exc:  # plotting code meets whatever the estimator returns
        log.warning("Wrote no report.html: %s: %s", type(exc).__name__, exc)
        return None
    log.info("Drew the run report (%d bytes)", len(report))
    return report


def serving_note(record: OnnxRecord | None) -> str:
    """Which runtime will serve the model, and why; part of the result's message."""
    if record is not None and record.verified:
        return (
            f"served by onnxruntime (verified on {record.rows} holdout rows, "
            f"max difference {record.max_difference or 0.0:.2g})"
        )
    reason = record.reason if record is not None else "not converted"
    return f"served by scikit-learn ({reason})"


def serving_runtime(record: OnnxRecord | None) -> ServingRuntime:
    """onnxruntime only for a graph verified against the model (what ``serve`` auto picks)."""
    verified = record is not None and record.verified
    return ServingRuntime.ONNX if verified else ServingRuntime.SKLEARN


def _serialize(model: Pipeline, config: RunConfig) -> bytes:
    try:
        return serialize_model(model, extra_prefixes=extra_trusted_prefixes(config))
    except ModelRejectedError as exc:
        raise TrainerError(
            Outcome.ARTIFACT_WRITE_FAILED,
            "the trained model cannot be written as a loadable skops file",
            [failure("artifact_write", str(exc))],
        ) from None


def _record_data(facts: _Facts, data: RunData) -> None:
    facts.data_hash = data.train.sha256
    facts.rows = RowCounts(total=len(data.train.frame))
    facts.null_counts = data.null_counts()
    for role, counts in facts.null_counts.items():
        for column, count in counts.items():
            log.info("Read %d nulls in %s column %s (imputed in training)", count, role, column)


def _seed_everything(seed: int) -> None:
    # The estimator and the split get the seed explicitly; these cover code that
    # draws from the global generators (some third-party estimators do).
    random.seed(seed)
    np.random.seed(seed)


def _json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars become Python ones, unknown objects their repr."""
    return json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _result(
    config: RunConfig,
    facts: _Facts,
    outcome: Outcome,
    message: str,
    error: TrainerError | None = None,
) -> TrainerResult:
    return TrainerResult(
        outcome=outcome,
        message=message,
        model_version=config.model_version,
        artifact_path=facts.artifact_path,
        code_revision=config.code_revision,
        dataset_version=config.dataset.version,
        data_hash=facts.data_hash,
        rows=facts.rows,
        metrics=facts.metrics if outcome is Outcome.SUCCEEDED else {},
        champion_metrics=facts.champion_metrics if outcome is Outcome.SUCCEEDED else None,
        significance=facts.significance if outcome is Outcome.SUCCEEDED else None,
        serving=serving_note(facts.onnx) if outcome is Outcome.SUCCEEDED else None,
        serving_runtime=serving_runtime(facts.onnx) if outcome is Outcome.SUCCEEDED else None,
        failures=error.failures if error else [],
        null_counts=facts.null_counts or (error.null_counts if error else None),
    )
