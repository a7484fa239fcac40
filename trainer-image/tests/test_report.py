"""report.html and train.log: written next to the model, self-contained, with every chart."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelpipe_contract.result import Outcome
from modelpipe_contract.runconfig import RunConfig

from modelpipe_trainer import training

DIABETES_FEATURES = ["age", "sex", "bmi", "bp"]


def _train(config: dict[str, Any]) -> Path:
    result = training.train(RunConfig.model_validate(config))
    assert result.outcome is Outcome.SUCCEEDED, result.message
    assert result.artifact_path is not None
    return Path(result.artifact_path)


def _charts(html: str) -> dict[str, str]:
    """Each chart's SVG by its data-chart name."""
    found = re.findall(r'(<svg class="chart" data-chart="([a-z-]+)".*?</svg>)', html, re.S)
    return {name: svg for svg, name in found}


@pytest.fixture
def diabetes_csv(tmp_path: Path, diabetes: pd.DataFrame) -> Path:
    path = tmp_path / "data" / "diabetes.csv"
    path.parent.mkdir()
    diabetes[[*DIABETES_FEATURES, "target"]].to_csv(path, index=False)
    return path


def _diabetes_config(make_config: Callable[..., dict[str, Any]], data: Path) -> dict[str, Any]:
    return make_config(
        data,
        pipeline="diabetes",
        task="regression",
        schema={
            "target": "target",
            "features": [
                {"name": "age"},
                {"name": "sex", "kind": "categorical", "allowedValues": ["f", "m"]},
                {"name": "bmi"},
                {"name": "bp"},
            ],
        },
        estimator={"className": "sklearn.linear_model.Ridge"},
        thresholds=[{"metric": "r2", "min": 0.2}],
    )


def test_classification_report_has_matrix_curves_importance_and_thresholds(
    iris_csv: Path, make_config: Any
) -> None:
    config = make_config(iris_csv, thresholds=[{"metric": "accuracy", "min": 0.99}])
    html = (_train(config) / "report.html").read_text()
    charts = _charts(html)
    assert set(charts) == {"confusion", "roc", "pr", "importance"}
    assert charts["confusion"].count('class="cell"') == 9  # 3 classes
    assert charts["roc"].count('class="line"') == 3  # one-vs-rest per class
    assert charts["pr"].count('class="line"') == 3
    assert charts["importance"].count('class="bar"') == 4
    assert "Data validation" in html and "sepal_length" in html and "0 .. 10" in html
    assert "&ge; 0.99" in html  # the threshold beside the metric
    assert "first model: no history yet" in html
    # Self-contained: no script, no fetched resource.
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_regression_report_has_residuals_and_predicted_against_actual(
    diabetes_csv: Path, make_config: Any
) -> None:
    html = (_train(_diabetes_config(make_config, diabetes_csv)) / "report.html").read_text()
    charts = _charts(html)
    assert set(charts) == {"predicted-actual", "residuals", "importance"}
    holdout = 89  # 20 % of 442 rows
    assert charts["predicted-actual"].count('class="point"') == holdout
    assert charts["residuals"].count('class="point"') == holdout
    assert "&ge; 0.2" in html


def test_history_comes_from_the_pipelines_earlier_models_and_the_champion(
    iris_csv: Path, make_config: Any, tmp_path: Path
) -> None:
    first = _train(make_config(iris_csv, modelVersion="v1"))
    _train(make_config(iris_csv, modelVersion="v2", championPath=str(first)))
    html = (tmp_path / "artifacts" / "v2" / "report.html").read_text()
    history = _charts(html)["history"]
    assert history.count('class="point"') == 2 * 7  # two models, seven metrics each
    assert ">v1<" in html and ">v2<" in html
    assert str(first) in html  # compared with the champion


def test_the_run_log_is_kept_with_the_model(iris_csv: Path, make_config: Any) -> None:
    log = (_train(make_config(iris_csv)) / "train.log").read_text()
    assert "Validated dataset" in log
    assert "Scored candidate on 30 holdout rows" in log
    assert "Drew the run report" in log


def test_a_report_that_cannot_be_drawn_costs_no_model(
    iris_csv: Path, make_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> bytes:
        raise ValueError("no")

    monkeypatch.setattr(training, "build_report", broken)
    model_dir = _train(make_config(iris_csv))
    assert not (model_dir / "report.html").exists()
    assert "Wrote no report.html: ValueError: no" in (model_dir / "train.log").read_text()
