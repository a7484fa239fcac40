"""XGBoost and LightGBM through their scikit-learn interfaces: trained by the trainer, saved
as skops under the allowlist (no pickle, no trusted=True), loaded and served by scikit-learn
when ONNX cannot take them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import skops.io as sio
from sklearn.metrics import r2_score

from modelpipe_trainer.bundle import load_bundle
from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.loading import load_served
from modelpipe_trainer.serving.sklearn_predictor import SklearnPredictor
from modelpipe_trainer.trust import refused_types

SMALL = {"n_estimators": 20}
CODES = {"setosa": 0, "versicolor": 1, "virginica": 2}
LIBRARY = {"xgboost.XGBClassifier": "xgboost-cpu", "lightgbm.LGBMClassifier": "lightgbm"}
DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def _check_model_dir(model_dir: Path, frame: pd.DataFrame, features: list[str]) -> pd.Series:
    """The skops file names only allowlisted types and loads; its predictions, one per row."""
    data = (model_dir / "model.skops").read_bytes()
    assert refused_types(sio.get_untrusted_types(data=data)) == []
    assert not (model_dir / "model.onnx").exists()
    served = load_served(model_dir)
    assert isinstance(served.predictor, SklearnPredictor)
    return pd.Series(load_bundle(model_dir).model.predict(frame[features]), index=frame.index)


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
    assert result["serving"].startswith("served by scikit-learn (no ONNX conversion: ")
    features = [f["name"] for f in config["schema"]["features"]]
    predicted = _check_model_dir(Path(result["artifactPath"]), coded, features)
    lineage = json.loads((Path(result["artifactPath"]) / "lineage.json").read_text())
    assert lineage["libraries"][LIBRARY[class_path]] not in ("", "unknown")
    assert (predicted == coded["species"]).mean() > 0.9


@pytest.mark.parametrize("class_path", ["xgboost.XGBRegressor", "lightgbm.LGBMRegressor"])
def test_regressor_on_diabetes(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    diabetes: pd.DataFrame,
    tmp_path: Path,
    class_path: str,
) -> None:
    diabetes.to_parquet(tmp_path / "diabetes.parquet", index=False)
    features = [{"name": n} for n in DIABETES_FEATURES]
    features[1] = {"name": "sex", "kind": "categorical"}
    config = make_config(
        tmp_path / "diabetes.parquet",
        task="regression",
        schema={"target": "target", "features": features},
        estimator={"className": class_path, "params": {**SMALL, "learning_rate": 0.1}},
    )
    code, result = run_cli("train", config)
    assert (code, result["outcome"]) == (0, "Succeeded"), result
    assert result["metrics"]["r2"] > 0.2
    predicted = _check_model_dir(Path(result["artifactPath"]), diabetes, DIABETES_FEATURES)
    assert r2_score(diabetes["target"], predicted) > 0.3


@pytest.mark.parametrize("class_path", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier"])
def test_text_labels_are_trained_scored_and_served_as_text(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    iris_csv: Path,
    class_path: str,
) -> None:
    # XGBClassifier takes only codes 0..n-1: the trainer encodes the labels and decodes
    # its predictions (modelpipe_trainer.labels); LightGBM takes the text as it is.
    config = make_config(iris_csv, estimator={"className": class_path, "params": SMALL})
    code, result = run_cli("train", config)
    assert (code, result["outcome"]) == (0, "Succeeded"), result
    assert result["metrics"]["accuracy"] > 0.85
    assert result["serving"].startswith("served by scikit-learn (no ONNX conversion: ")
    model_dir = Path(result["artifactPath"])
    features = [f["name"] for f in config["schema"]["features"]]
    predicted = _check_model_dir(model_dir, iris, features)
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


def test_gapped_integer_labels_come_back_as_given(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
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
