"""The report page: one static HTML file with inline CSS and SVG, no script, no links out.

A pure function of :class:`ReportData`, so the page can be tested without training.
Sections: summary, data validation, metrics (thresholds and champion), the task's charts,
permutation importance, metric history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from modelpipe_contract.result import HIGHER_IS_BETTER

from modelpipe_trainer.report.analysis import ColumnProfile, Diagnostics, PastRun
from modelpipe_trainer.report.svg import (
    Series,
    bar_chart,
    heatmap_chart,
    line_chart,
    scatter_chart,
)

_STYLE = """
body{font-family:sans-serif;margin:2em auto;max-width:960px;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;font-size:.9em}th{background:#f4f4f4}.pass{color:#1a7f37}.fail{color:#c62828}
.charts{display:flex;flex-wrap:wrap;gap:12px}.note{color:#666;font-size:.9em}
code{background:#f4f4f4;padding:0 3px}
"""


@dataclass(frozen=True)
class DatasetFacts:
    role: str
    uri: str
    version: str
    sha256: str
    rows: int
    columns: list[ColumnProfile]
    null_values: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Bound:
    metric: str
    minimum: float | None
    maximum: float | None


@dataclass(frozen=True)
class ReportData:
    pipeline: str
    model_version: str
    code_revision: str
    task: str
    estimator: str
    params: dict[str, Any]
    finished_at: str
    holdout: str
    datasets: list[DatasetFacts]
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    champion_path: str | None
    thresholds: list[Bound]
    diagnostics: Diagnostics
    history: list[PastRun]


def render(data: ReportData) -> bytes:
    sections = [
        _summary(data),
        _validation(data.datasets),
        _metrics(data),
        _charts(data),
        _importance(data.diagnostics),
        _history(data),
    ]
    title = f"modelpipe report: {data.pipeline} {data.model_version}"
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{''.join(sections)}</body></html>\n"
    )
    return page.encode()


def _summary(data: ReportData) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(data.params.items()))
    return _table(
        ["", ""],
        [
            ["pipeline", data.pipeline],
            ["model version", data.model_version],
            ["code revision", data.code_revision],
            ["task", data.task],
            ["estimator", data.estimator],
            ["params", params[:2000]],
            ["holdout", data.holdout],
            ["trained at", data.finished_at],
        ],
        with_header=False,
    )


def _validation(datasets: Sequence[DatasetFacts]) -> str:
    parts = ["<h2>Data validation</h2>"]
    for d in datasets:
        nulls = ", ".join(repr(v) for v in d.null_values) or "none"
        parts.append(
            f"<h3>{escape(d.role)}: {escape(d.version)}</h3>"
            f'<p class="note">{escape(d.uri)} · sha256 <code>{escape(d.sha256[:16])}</code> · '
            f"{d.rows} rows · null tokens {escape(nulls)} · every check passed</p>"
        )
        parts.append(
            _table(
                ["column", "kind", "declared", "observed", "nulls"],
                [[c.name, c.kind, c.declared, c.observed, str(c.nulls)] for c in d.columns],
            )
        )
    return "".join(parts)


def _metrics(data: ReportData) -> str:
    bounds = {b.metric: b for b in data.thresholds}
    champion = data.champion_metrics or {}
    rows = []
    for name, value in sorted(data.metrics.items()):
        rows.append(
            [
                name,
                f"{value:.4f}",
                _threshold_cell(bounds.get(name), value),
                _champion_cell(name, value, champion.get(name)),
            ]
        )
    header = ["metric", "candidate", "threshold", "champion"]
    note = (
        f'<p class="note">Champion: {escape(data.champion_path)}, scored on the same holdout.</p>'
        if data.champion_path
        else '<p class="note">No champion was compared.</p>'
    )
    return "<h2>Metrics</h2>" + _table(header, rows, raw_columns={2, 3}) + note


def _threshold_cell(bound: Bound | None, value: float) -> str:
    if bound is None:
        return ""
    parts, ok = [], True
    if bound.minimum is not None:
        parts.append(f"&ge; {bound.minimum:g}")
        ok = ok and value >= bound.minimum
    if bound.maximum is not None:
        parts.append(f"&le; {bound.maximum:g}")
        ok = ok and value <= bound.maximum
    return _verdict(ok, " and ".join(parts))


def _champion_cell(name: str, value: float, theirs: float | None) -> str:
    if theirs is None:
        return ""
    higher = HIGHER_IS_BETTER.get(name, True)
    ok = value >= theirs if higher else value <= theirs
    return _verdict(ok, f"{theirs:.4f} ({value - theirs:+.4f})")


def _verdict(ok: bool, text: str) -> str:
    mark = "pass" if ok else "fail"
    return f'<span class="{mark}">{"✔" if ok else "✘"} {text}</span>'


def _charts(data: ReportData) -> str:
    d = data.diagnostics
    charts: list[str] = []
    if data.task == "classification":
        title = "Classification on the holdout"
        if d.confusion:
            charts.append(heatmap_chart("confusion", "Confusion matrix", d.classes, d.confusion))
        if d.roc:
            charts.append(
                line_chart(
                    "roc",
                    "ROC curve",
                    d.roc,
                    x_label="false positive rate",
                    y_label="true positive rate",
                    unit_square=True,
                )
            )
        if d.pr:
            charts.append(
                line_chart(
                    "pr",
                    "Precision-recall curve",
                    d.pr,
                    x_label="recall",
                    y_label="precision",
                    unit_square=True,
                )
            )
    else:
        title = "Regression on the holdout"
        residuals = [a - p for a, p in zip(d.actual, d.predicted, strict=True)]
        charts.append(
            scatter_chart(
                "predicted-actual",
                "Predicted against actual",
                d.actual,
                d.predicted,
                x_label="actual",
                y_label="predicted",
                reference="diagonal",
            )
        )
        charts.append(
            scatter_chart(
                "residuals",
                "Residuals",
                d.predicted,
                residuals,
                x_label="predicted",
                y_label="actual - predicted",
                reference="zero",
            )
        )
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in d.notes)
    return f'<h2>{title}</h2><div class="charts">{"".join(charts)}</div>{notes}'


def _importance(d: Diagnostics) -> str:
    if not d.importance:
        return ""
    top = d.importance[:20]
    chart = bar_chart(
        "importance",
        "Permutation importance",
        [i.column for i in top],
        [i.mean for i in top],
        [i.std for i in top],
    )
    return f"<h2>Permutation importance</h2>{chart}"


def _history(data: ReportData) -> str:
    runs = [*data.history, PastRun(data.model_version, data.finished_at, data.metrics)]
    names = sorted(data.metrics)
    series = [
        Series(name, list(range(len(runs))), [r.metrics.get(name, float("nan")) for r in runs])
        for name in names
        if all(name in r.metrics for r in runs)
    ]
    chart = (
        line_chart(
            "history",
            "Metrics by model version",
            series,
            x_label="model (oldest first)",
            y_label="value",
            markers=True,
        )
        if len(runs) > 1 and series
        else '<p class="note">This is the pipeline\'s first model: no history yet.</p>'
    )
    rows = [
        [str(i), r.model_version, r.finished_at, *(_fmt(r.metrics.get(n)) for n in names)]
        for i, r in enumerate(runs)
    ]
    table = _table(["#", "model version", "trained at", *names], rows)
    return f"<h2>Metric history</h2>{chart}{table}"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    with_header: bool = True,
    raw_columns: set[int] | None = None,
) -> str:
    raw = raw_columns or set()
    head = (
        "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if with_header else ""
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td>{c if i in raw else escape(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table>{head}{body}</table>"
