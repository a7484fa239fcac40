"""XGBoost and LightGBM through their scikit-learn interfaces, and scikit-learn's
HistGradientBoosting: trained by the trainer, saved as skops under the allowlist (no pickle,
no trusted=True), converted to ONNX (onnx_boosters) and served by onnxruntime, answering as
scikit-learn does."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.metrics import r2_score

from modelpipe_trainer.bundle import load_bundle
from modelpipe_trainer.onnx_export import ABS_TOLERANCE, REL_TOLERANCE
from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.loading import load_served
from modelpipe_trainer.serving.onnx_predictor import OnnxPredictor
from modelpipe_trainer.trust import refused_types

SMALL = {"n_estimators": 20}
CODES = {"setosa": 0, "versicolor": 1, "virginica": 2}
LIBRARY = {"xgboost.XGBClassifier": "xgboost-cpu", "lightgbm.LGBMClassifier": "lightgbm"}
# conftest.runtime_answers: (model_dir, rows, output) -> (onnxruntime's, scikit-learn's)
RuntimeAnswers = Callable[..., tuple[np.ndarray, np.ndarray]]
HIST = "sklearn.ensemble.HistGradientBoosting"
DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def _check_model_dir(
    model_dir: Path, frame: pd.DataFrame, features: list[str], answers: RuntimeAnswers
) -> pd.Series:
    """The skops file names only allowlisted types and loads; the verified ONNX graph is
    served, and on every row (the held-in ones too) answers as the scikit-learn path does:
    classes bit for bit (values and type), numbers within the verification's tolerance.
    The served predictions, one per row."""
    data = (model_dir / "model.skops").read_bytes()
    assert refused_types(sio.get_untrusted_types(data=data)) == []
    assert isinstance(load_served(model_dir).predictor, OnnxPredictor)
    rows = frame[features].to_dict("records")
    predicted, expected = answers(model_dir, rows, "predict")
    if load_bundle(model_dir).schema.classes:
        assert predicted.tolist() == expected.tolist()
        got, expected = answers(model_dir, rows, "predict_proba")
    else:
        got = predicted
    np.testing.assert_allclose(got, expected, rtol=REL_TOLERANCE, atol=ABS_TOLERANCE)
    return pd.Series(predicted, index=frame.index)


async def _served(model_dir: Path, rows: list[dict[str, float]]) -> dict[str, Any]:
    """What the model server answers for ``rows`` on /predict."""
    transport = httpx.ASGITransport(app=create_app(load_served(model_dir), name="iris"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.post("/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("class_path", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier"])
def test_classifier_on_iris(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
    class_path: str,
    runtime_answers: RuntimeAnswers,
) -> None:
    # Labels that are already the codes 0..n-1 stay as they are.
    coded = iris.assign(species=iris["species"].map(CODES))
    coded.to_csv(tmp_path / "iris.csv", index=False)
    config = make_config(
        tmp_path / "iris.csv", estimator={"className": class_path, "params": SMALL}
    )
    code, result = run_cli("train", config)
    assert (code, result["outcome"]) == (0, "Succeeded"), result
    assert result["metrics"]["accuracy"] > 0.85
    assert result["serving"].startswith("served by onnxruntime (verified on "), result
    features = [f["name"] for f in config["schema"]["features"]]
    predicted = _check_model_dir(Path(result["artifactPath"]), coded, features, runtime_answers)
    lineage = json.loads((Path(result["artifactPath"]) / "lineage.json").read_text())
    assert lineage["libraries"][LIBRARY[class_path]] not in ("", "unknown")
    assert (predicted == coded["species"]).mean() > 0.9


@pytest.mark.parametrize(
    ("class_path", "params"),
    [
        ("xgboost.XGBRegressor", {**SMALL, "learning_rate": 0.1}),
        ("lightgbm.LGBMRegressor", {**SMALL, "learning_rate": 0.1}),
        # Compared in float32, this one's holdout was off by 1.03.
        (HIST + "Regressor", {"max_iter": 300}),
    ],
)
def test_regressor_on_diabetes(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    diabetes: pd.DataFrame,
    tmp_path: Path,
    class_path: str,
    params: dict[str, Any],
    runtime_answers: RuntimeAnswers,
) -> None:
    diabetes.to_parquet(tmp_path / "diabetes.parquet", index=False)
    features = [{"name": n} for n in DIABETES_FEATURES]
    features[1] = {"name": "sex", "kind": "categorical"}
    config = make_config(
        tmp_path / "diabetes.parquet",
        task="regression",
        schema={"target": "target", "features": features},
        estimator={"className": class_path, "params": params},
    )
    code, result = run_cli("train", config)
    assert (code, result["outcome"]) == (0, "Succeeded"), result
    assert result["metrics"]["r2"] > 0.2
    assert result["serving"].startswith("served by onnxruntime (verified on "), result
    predicted = _check_model_dir(
        Path(result["artifactPath"]), diabetes, DIABETES_FEATURES, runtime_answers
    )
    assert r2_score(diabetes["target"], predicted) > 0.3


@pytest.mark.parametrize(
    "species",
    [["setosa", "versicolor", "virginica"], ["versicolor", "virginica"]],
    ids=["multiclass", "binary"],
)
def test_hist_gradient_boosting_classifier_is_served_by_onnxruntime(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
    species: list[str],
    runtime_answers: RuntimeAnswers,
) -> None:
    """Binary (one LOGISTIC score) and multiclass (SOFTMAX over a score per class)."""
    subset = iris[iris["species"].isin(species)]
    subset.to_csv(tmp_path / "iris.csv", index=False)
    config = make_config(tmp_path / "iris.csv", estimator={"className": HIST + "Classifier"})
    code, result = run_cli("train", config)
    assert (code, result["outcome"]) == (0, "Succeeded"), result
    assert result["serving"].startswith("served by onnxruntime (verified on "), result
    features = [f["name"] for f in config["schema"]["features"]]
    predicted = _check_model_dir(Path(result["artifactPath"]), subset, features, runtime_answers)
    assert (predicted == subset["species"]).mean() > 0.9


@pytest.mark.parametrize("class_path", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier"])
def test_text_labels_are_trained_scored_and_served_as_text(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    iris_csv: Path,
    class_path: str,
    runtime_answers: RuntimeAnswers,
) -> None:
    # XGBClassifier takes only codes 0..n-1: the trainer encodes the labels and decodes
    # its predictions (modelpipe_trainer.labels); LightGBM takes the text as it is.
    config = make_config(iris_csv, estimator={"className": class_path, "params": SMALL})
    code, result = run_cli("train", config)
    assert (code, result["outcome"]) == (0, "Succeeded"), result
    assert result["metrics"]["accuracy"] > 0.85
    assert result["serving"].startswith("served by onnxruntime (verified on "), result
    model_dir = Path(result["artifactPath"])
    features = [f["name"] for f in config["schema"]["features"]]
    predicted = _check_model_dir(model_dir, iris, features, runtime_answers)
    assert (predicted == iris["species"]).mean() > 0.9
    model = load_bundle(model_dir).model
    assert model.classes_.tolist() == sorted(CODES)
    assert model.predict_proba(iris[features]).shape == (len(iris), 3)
    assert json.loads((model_dir / "schema.json").read_text())["classes"] == sorted(CODES)
    # The lineage records the params the config gave, not the wrapper's.
    lineage = json.loads((model_dir / "lineage.json").read_text())
    assert (lineage["estimator"], lineage["params"]["n_estimators"]) == (class_path, 20)
    rows = iris[features].head(3).to_dict("records")
    answer = asyncio.run(_served(model_dir, rows))
    assert answer["predictions"] == iris["species"].head(3).tolist()
    assert _imported_by_serving(model_dir) == []


def _imported_by_serving(model_dir: Path) -> list[str]:
    """The heavy modules a fresh process imports to load ``model_dir`` and answer one row:
    the ONNX path needs neither the boosting libraries nor their converters."""
    script = f"""
import json, sys
from pathlib import Path
from modelpipe_trainer.serving.loading import load_served
from modelpipe_trainer.serving.payloads import columns_from_records
served = load_served(Path({str(model_dir)!r}))
row = {{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}
served.predictor.predict(columns_from_records({{"instances": [row]}}, served.schema))
heavy = ("pandas", "sklearn", "skops", "xgboost", "lightgbm", "onnxmltools", "skl2onnx")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    imported: list[str] = json.loads(done.stdout)
    return imported


def test_gapped_integer_labels_come_back_as_given(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
    runtime_answers: RuntimeAnswers,
) -> None:
    codes = {"setosa": 3, "versicolor": 7, "virginica": 9}
    gapped = iris.assign(species=iris["species"].map(codes))
    gapped.to_csv(tmp_path / "iris.csv", index=False)
    config = make_config(
        tmp_path / "iris.csv", estimator={"className": "xgboost.XGBClassifier", "params": SMALL}
    )
    code, result = run_cli("train", config)
    assert (code, result["outcome"]) == (0, "Succeeded"), result
    model = load_bundle(Path(result["artifactPath"])).model
    assert model.classes_.tolist() == [3, 7, 9]
    features = [f["name"] for f in config["schema"]["features"]]
    assert set(model.predict(gapped[features])) == {3, 7, 9}
    predicted = _check_model_dir(Path(result["artifactPath"]), gapped, features, runtime_answers)
    assert set(predicted) == {3, 7, 9}
