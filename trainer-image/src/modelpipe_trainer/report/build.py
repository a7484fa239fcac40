"""Assembling the report from what a training run already holds, and the earlier runs'
documents beside it: the files this package reads (analysis and page read none)."""

from __future__ import annotations

from pathlib import Path

from modelpipe_contract.runconfig import FeatureKind, FeatureSpec, RunConfig
from pydantic import ValidationError
from sklearn.pipeline import Pipeline

from modelpipe_trainer.datasets import Dataset, RunData
from modelpipe_trainer.documents import LINEAGE_FILE, METRICS_FILE, Lineage, MetricsDocument
from modelpipe_trainer.evaluation import Holdout
from modelpipe_trainer.report.analysis import PastRun, diagnose, profile
from modelpipe_trainer.report.page import Bound, DatasetFacts, ReportData, render

REPORT_FILE = "report.html"
MAX_HISTORY = 50


def build_report(
    *,
    config: RunConfig,
    model: Pipeline,
    data: RunData,
    holdout: Holdout,
    lineage: Lineage,
    metrics: MetricsDocument,
) -> bytes:
    """The report's bytes; ``holdout`` is what the metrics were scored on."""
    diagnostics = diagnose(
        model, holdout.features, holdout.target, task=config.task, seed=config.seed
    )
    datasets = [_facts("dataset", data.train, config)]
    if data.evaluation is not None:
        datasets.append(_facts("evalDataset", data.evaluation, config))
    report = ReportData(
        pipeline=config.pipeline,
        model_version=config.model_version,
        code_revision=config.code_revision,
        task=config.task.value,
        estimator=lineage.estimator,
        params=lineage.params,
        finished_at=lineage.finished_at,
        holdout=f"{metrics.holdout_rows} rows ({metrics.holdout_source})",
        datasets=datasets,
        metrics=metrics.metrics,
        champion_metrics=metrics.champion_metrics,
        champion_path=metrics.champion_path,
        thresholds=[Bound(t.metric, t.minimum, t.maximum) for t in config.thresholds],
        diagnostics=diagnostics,
        history=past_runs(Path(config.artifacts_dir), exclude=config.model_version),
    )
    return render(report)


def past_runs(artifacts_dir: Path, *, exclude: str) -> list[PastRun]:
    """The pipeline's earlier models, read from their directories beside this one, oldest
    first. A directory without readable documents (being written, or not a model) is skipped."""
    found: list[PastRun] = []
    try:
        entries = [p for p in artifacts_dir.iterdir() if p.is_dir() and p.name != exclude]
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            metrics = MetricsDocument.model_validate_json((entry / METRICS_FILE).read_bytes())
            lineage = Lineage.model_validate_json((entry / LINEAGE_FILE).read_bytes())
        except (OSError, ValidationError):
            continue
        found.append(PastRun(entry.name, lineage.finished_at, metrics.metrics))
    return sorted(found, key=lambda r: r.finished_at)[-MAX_HISTORY:]


def _facts(role: str, dataset: Dataset, config: RunConfig) -> DatasetFacts:
    schema = config.data_schema
    columns = [(f.name, f.kind.value, _declared(f)) for f in schema.features]
    columns.append((schema.target, "target", ""))
    return DatasetFacts(
        role=role,
        uri=dataset.ref.uri,
        version=dataset.ref.version,
        sha256=dataset.sha256,
        rows=len(dataset.frame),
        columns=profile(dataset.frame, columns),
        null_values=list(schema.null_values),
    )


def _declared(feature: FeatureSpec) -> str:
    parts = []
    if feature.kind is FeatureKind.NUMERIC:
        if feature.minimum is not None or feature.maximum is not None:
            low = "" if feature.minimum is None else f"{feature.minimum:g}"
            high = "" if feature.maximum is None else f"{feature.maximum:g}"
            parts.append(f"{low} .. {high}")
    elif feature.allowed_values is not None:
        parts.append(", ".join(feature.allowed_values[:10]))
    if feature.max_null_fraction:
        parts.append(f"nulls ≤ {feature.max_null_fraction:g}")
    return "; ".join(parts)
