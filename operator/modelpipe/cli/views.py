"""What each command shows, as plain values: a pure function of the objects read.

Every view returns a :class:`View`: named sections of rows for the table output, and one
document for ``-o json|yaml``. Nothing here talks to the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelpipe.api.v1alpha1 import (
    TRAINED_VERDICTS,
    CurrentRun,
    ModelPipelineStatus,
    RunRecord,
    Verdict,
    all_runs,
)

Row = list[str]


@dataclass(frozen=True)
class Section:
    title: str
    header: Row
    rows: list[Row]


@dataclass(frozen=True)
class View:
    sections: list[Section]
    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)


class UnknownVersionError(Exception):
    """A model version that the pipeline's status does not record."""


def status_view(obj: Mapping[str, Any]) -> View:
    """What serves and why, what runs now, and the last run's check table."""
    status = _status(obj)
    name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace", "")
    pinned = (obj.get("spec", {}).get("serving") or {}).get("pinnedVersion")
    prod = status.production
    summary: list[Row] = [["pipeline", f"{namespace}/{name}"]]
    for cond in status.conditions:
        if cond.type in ("Ready", "Degraded", "SourcesReady"):
            summary.append([cond.type, f"{cond.status} {cond.reason}: {cond.message}".strip()])
    if prod is not None:
        summary += [
            ["serving", prod.model_version],
            ["why", prod.reason],
            ["since", prod.promoted_at],
            ["code", prod.code_revision or ""],
            ["data", f"{prod.dataset_version or ''} {_short(prod.data_hash)}".strip()],
        ]
    else:
        summary.append(["serving", "nothing yet"])
    if pinned:
        summary.append(["pinned", pinned])
    if status.inputs is not None:
        summary.append(
            ["desired", f"{status.inputs.model_version} ({status.inputs.verdict or '-'})"]
        )
    run = status.current_run
    summary.append(["running", _running(run)])
    if prod is not None:
        summary.append(["report", f"kubectl modelpipe report {name} -n {namespace}"])
    sections = [Section("", ["", ""], summary)]
    last = status.last_run
    if last is not None:
        sections.append(_checks(last))
    document = {
        "name": name,
        "namespace": namespace,
        "conditions": [c.model_dump(mode="json", by_alias=True) for c in status.conditions],
        "production": _dump(prod),
        "pinnedVersion": pinned,
        "inputs": _dump(status.inputs),
        "currentRun": _dump(run),
        "lastRun": _dump(last),
        "reportPath": "/report" if prod is not None else None,
    }
    return View(sections, document)


def _checks(last: RunRecord) -> Section:
    title = f"last run {last.model_version}: {last.verdict}" + (
        f" ({last.message})" if last.message else ""
    )
    rows = [
        [c.gate, c.metric, c.bound, _num(c.value), "pass" if c.passed else "FAIL", c.message]
        for c in last.checks
    ]
    rows += [["data", f.column or "", f.check, "", "FAIL", f.message] for f in last.failures]
    return Section(title, ["GATE", "METRIC", "BOUND", "VALUE", "RESULT", "MESSAGE"], rows)


def history_view(obj: Mapping[str, Any]) -> View:
    """Every recorded run, newest first: inputs, verdict, metrics, and whether it served."""
    status = _status(obj)
    serving = status.production.model_version if status.production else None
    rows = []
    runs = all_runs(status)
    for run in runs:
        served = "now" if run.model_version == serving else _served(run)
        rows.append(
            [
                run.model_version,
                run.verdict,
                served,
                run.code_revision or "",
                run.dataset_version or "",
                _short(run.data_hash),
                run.completion_time or run.start_time or "",
                _metrics(run.metrics),
            ]
        )
    header = ["VERSION", "VERDICT", "SERVED", "CODE", "DATA", "DATA HASH", "FINISHED", "METRICS"]
    document = {"runs": [{**_dump(run), "serving": run.model_version == serving} for run in runs]}
    return View([Section("", header, rows)], document)


def diff_view(
    obj: Mapping[str, Any],
    first: str,
    second: str,
    *,
    documents: Mapping[str, Mapping[str, Any]],
) -> View:
    """Two runs side by side; ``documents`` holds each version's lineage and schema, when
    they could be read (params and schema live with the artifacts, not in status)."""
    runs = recorded_runs(obj, first, second)
    a, b = _fields(runs[first], documents.get(first)), _fields(runs[second], documents.get(second))
    rows = [
        [key, a.get(key, ""), b.get(key, ""), "" if a.get(key) == b.get(key) else "*"]
        for key in sorted(set(a) | set(b), key=_field_order)
    ]
    document = {key: {first: a.get(key), second: b.get(key)} for key in (r[0] for r in rows)}
    notes = [
        f"{v}: params and schema not shown ({documents.get(v, {}).get('error', 'not read')})"
        for v in (first, second)
        if "error" in documents.get(v, {"error": "not read"})
    ]
    return View([Section("", ["FIELD", first, second, ""], rows)], document, notes)


def recorded_runs(obj: Mapping[str, Any], *versions: str) -> dict[str, RunRecord]:
    """Every recorded run by version; :class:`UnknownVersionError` if one of ``versions``
    is not among them."""
    runs = {r.model_version: r for r in all_runs(_status(obj))}
    for version in versions:
        if version not in runs:
            known = ", ".join(runs) or "none"
            raise UnknownVersionError(f"no run of model version {version!r} (recorded: {known})")
    return runs


def _fields(run: RunRecord, files: Mapping[str, Any] | None) -> dict[str, str]:
    fields = {
        "code": run.code_revision or "",
        "data.version": run.dataset_version or "",
        "data.sha256": run.data_hash or "",
        "inputs.hash": run.input_hash,
        "verdict": run.verdict,
    }
    fields |= {f"metrics.{k}": _num(v) for k, v in run.metrics.items()}
    if files and "error" not in files:
        lineage = files.get("lineage") or {}
        fields["estimator"] = str(lineage.get("estimator", ""))
        fields |= {f"params.{k}": _text(v) for k, v in (lineage.get("params") or {}).items()}
        schema = files.get("schema") or {}
        fields["schema.target"] = str(schema.get("target", ""))
        for feature in schema.get("features") or []:
            fields[f"schema.{feature.get('name')}"] = _feature(feature)
        if schema.get("classes"):
            fields["schema.classes"] = ", ".join(map(str, schema["classes"]))
    return fields


def _field_order(key: str) -> tuple[int, str]:
    prefixes = (
        "code",
        "data.",
        "inputs.",
        "verdict",
        "metrics.",
        "estimator",
        "params.",
        "schema.",
    )
    return next((i for i, p in enumerate(prefixes) if key.startswith(p)), len(prefixes)), key


def _feature(feature: Mapping[str, Any]) -> str:
    parts = [str(feature.get("kind", "numeric"))]
    if feature.get("min") is not None or feature.get("max") is not None:
        parts.append(f"{_text(feature.get('min'))}..{_text(feature.get('max'))}")
    if feature.get("allowedValues"):
        parts.append("{" + ",".join(map(str, feature["allowedValues"])) + "}")
    if feature.get("maxNullFraction"):
        parts.append(f"nulls<={feature['maxNullFraction']}")
    return " ".join(parts)


def pinnable(obj: Mapping[str, Any], version: str) -> None:
    """Raise :class:`UnknownVersionError` unless ``version`` trained a model that can serve."""
    runs = [r for r in all_runs(_status(obj)) if r.verdict in TRAINED_VERDICTS]
    if version not in {r.model_version for r in runs}:
        known = ", ".join(r.model_version for r in runs) or "none"
        raise UnknownVersionError(
            f"model version {version!r} has no trained model in the pipeline's history "
            f"(pinnable: {known})"
        )


def run_version(obj: Mapping[str, Any], wanted: str | None) -> RunRecord:
    """The run named ``wanted``, else the current run, else the newest one."""
    status = _status(obj)
    runs = all_runs(status)
    if wanted is not None:
        for run in runs:
            if run.model_version == wanted:
                return run
        known = ", ".join(r.model_version for r in runs) or "none"
        raise UnknownVersionError(f"no run of model version {wanted!r} (recorded: {known})")
    if status.current_run is not None:
        current = status.current_run
        return RunRecord(
            model_version=current.model_version,
            job_name=current.job_name,
            input_hash=current.input_hash,
            verdict=Verdict.RUNNING,
        )
    if not runs:
        raise UnknownVersionError("the pipeline has not run yet")
    return runs[0]


def serving_version(obj: Mapping[str, Any]) -> str | None:
    production = _status(obj).production
    return production.model_version if production else None


def _running(run: CurrentRun | None) -> str:
    if run is None:
        return "nothing"
    place = f"; place {run.queue_position} in the training queue" if run.queue_position else ""
    return f"{run.model_version} {run.phase} (Job {run.job_name}{place})"


def elsewhere_note(obj: Mapping[str, Any], run: RunRecord) -> str:
    """Why the serving pod cannot hold ``run``'s records, or "": with spec.artifacts.s3 it
    downloads only the model it serves (a PVC holds every version)."""
    artifacts = (obj.get("spec") or {}).get("artifacts") or {}
    serving = serving_version(obj)
    if "s3" not in artifacts or run.model_version == serving:
        return ""
    where = f"; its files are under {run.model_uri}" if run.model_uri else ""
    return (
        f" (with spec.artifacts.s3 the serving pod holds only the model it serves, "
        f"{serving or 'none'}{where})"
    )


def _status(obj: Mapping[str, Any]) -> ModelPipelineStatus:
    return ModelPipelineStatus.model_validate(obj.get("status") or {})


def _served(run: RunRecord) -> str:
    if run.verdict is Verdict.PROMOTED:
        return "before"
    return ""


def _dump(value: Any) -> Any:
    return (
        None if value is None else value.model_dump(mode="json", by_alias=True, exclude_none=True)
    )


def _metrics(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{k}={_num(v)}" for k, v in sorted(metrics.items()))


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _short(digest: str | None) -> str:
    return digest[:12] if digest else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)
