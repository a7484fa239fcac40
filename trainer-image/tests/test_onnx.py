"""The ONNX fast path: conversion and verification at training time, the graph allow-list,
the manifest check, class outputs identical to scikit-learn's, and a start without pandas."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from modelpipe_contract.result import Outcome, TrainerResult
from modelpipe_contract.runconfig import RunConfig
from onnx import TensorProto, helper

from modelpipe_trainer import training
from modelpipe_trainer.bundle import load_bundle
from modelpipe_trainer.documents import Lineage, MetricsDocument
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.graphs import refused_parts
from modelpipe_trainer.serving.loading import Runtime, load_served
from modelpipe_trainer.serving.payloads import columns_from_records

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]  # conftest.iris


def test_training_converts_verifies_and_records(iris_model: Path) -> None:
    lineage = Lineage.model_validate_json((iris_model / "lineage.json").read_bytes())
    metrics = MetricsDocument.model_validate_json((iris_model / "metrics.json").read_bytes())
    assert lineage.onnx is not None and lineage.onnx == metrics.onnx
    assert lineage.onnx.converted and lineage.onnx.verified and lineage.onnx.reason is None
    assert lineage.onnx.rows == 30
    assert lineage.onnx.max_difference is not None
    assert lineage.onnx.max_difference <= lineage.onnx.abs_tolerance
    manifest = json.loads((iris_model / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.name for p in iris_model.iterdir()} - {"manifest.json"}
    assert "model.onnx" in manifest["files"]
    assert "onnxruntime" in lineage.libraries


@pytest.mark.parametrize(
    ("estimator", "why"),
    [
        ("sklearn.semi_supervised.LabelPropagation", "no ONNX conversion: "),
        ("sklearn.neighbors.KNeighborsClassifier", "operator ai.onnx.Scan"),  # not allowed
    ],
)
def test_unconvertible_model_is_served_by_sklearn_and_says_why(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    estimator: str,
    why: str,
) -> None:
    code, result = run_cli("train", make_config(iris_csv, estimator={"className": estimator}))
    assert code == 0, result
    assert result["serving"].startswith("served by scikit-learn (")
    assert result["servingRuntime"] == "scikit-learn"  # the operator's long default deadline
    assert why in result["serving"]
    model_dir = Path(result["artifactPath"])
    lineage = Lineage.model_validate_json((model_dir / "lineage.json").read_bytes())
    assert lineage.onnx is not None and not lineage.onnx.verified
    assert lineage.onnx.reason
    assert not (model_dir / "model.onnx").exists()
    assert load_served(model_dir).predictor.platform == "sklearn"
    with pytest.raises(ModelRejectedError, match="no verified ONNX model"):
        load_served(model_dir, runtime=Runtime.ONNX)


def test_a_verified_model_says_so_in_the_result(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
) -> None:
    code, result = run_cli("train", make_config(iris_csv))
    assert code == 0
    assert result["serving"].startswith("served by onnxruntime (verified on 30 holdout rows")
    assert result["servingRuntime"] == "onnxruntime"  # the operator's short default deadline


def _train_iris(frame: pd.DataFrame, tmp_path: Path, estimator: str) -> TrainerResult:
    """Train ``estimator`` on ``frame`` (iris, its features maybe renamed); a successful run."""
    frame.to_csv(tmp_path / "iris.csv", index=False)
    features = [{"name": n} for n in frame.columns if n != "species"]
    config = RunConfig.model_validate(
        {
            "pipeline": "iris",
            "modelVersion": "v1",
            "task": "classification",
            "dataset": {"uri": str(tmp_path / "iris.csv"), "version": "1"},
            "schema": {"target": "species", "features": features},
            "estimator": {"className": estimator},
            "artifactsDir": str(tmp_path / "artifacts"),
        }
    )
    result = training.train(config)
    assert result.outcome is Outcome.SUCCEEDED and result.artifact_path
    return result


@pytest.mark.parametrize(
    "estimator",
    [
        "sklearn.linear_model.LogisticRegression",
        "sklearn.svm.SVC",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.linear_model.RidgeClassifier",
        "sklearn.tree.DecisionTreeClassifier",
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.ensemble.GradientBoostingClassifier",
    ],
)
def test_class_outputs_are_identical_on_the_held_in_data(
    iris: pd.DataFrame,
    tmp_path: Path,
    estimator: str,
    runtime_answers: Callable[..., tuple[np.ndarray, np.ndarray]],
) -> None:
    """Every row the model was trained on, through both runtimes: the same labels, bit for bit."""
    model_dir = Path(_train_iris(iris, tmp_path, estimator).artifact_path or "")
    rows = iris[IRIS_FEATURES].to_dict("records")
    got, expected = runtime_answers(model_dir, rows, "predict")
    assert got.tolist() == expected.tolist()
    assert load_bundle(model_dir).model.predict(iris[IRIS_FEATURES]).tolist() == got.tolist()


@pytest.mark.parametrize(
    "estimator",
    [
        "sklearn.linear_model.LogisticRegression",
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "xgboost.XGBClassifier",
        "lightgbm.LGBMClassifier",
    ],
)
@pytest.mark.parametrize(
    ("labels", "kind"),
    [({"setosa": False, "versicolor": True, "virginica": True}, bool),
     ({"setosa": 0.0, "versicolor": 1.0, "virginica": 2.0}, float),
     ({"setosa": -0.0, "versicolor": 1.0, "virginica": -3.0}, float)],
    ids=["bool", "float", "negative-zero"],
)  # fmt: skip
def test_bool_and_float_labels_are_served_by_onnxruntime_as_they_were_given(
    iris: pd.DataFrame,
    tmp_path: Path,
    estimator: str,
    labels: dict[str, object],
    kind: type,
    runtime_answers: Callable[..., tuple[np.ndarray, np.ndarray]],
) -> None:
    """A graph holds such labels as int64; the predictor casts them back to the type the
    trainer saw, so they verify and both runtimes answer the same values of the same type
    (before, they were refused, or said "predicted classes differ on 0 holdout rows")."""
    frame = iris.assign(species=iris["species"].map(labels))
    result = _train_iris(frame, tmp_path, estimator)
    assert result.serving_runtime == "onnxruntime", result.serving
    model_dir = Path(result.artifact_path or "")
    got, expected = runtime_answers(model_dir, frame[IRIS_FEATURES].to_dict("records"), "predict")
    assert got.tolist() == expected.tolist()
    assert {type(v) for v in got.tolist()} == {kind}
    assert np.signbit(got.astype(float)).tolist() == np.signbit(expected.astype(float)).tolist()


def test_a_tampered_onnx_file_is_refused(iris_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "v1"
    shutil.copytree(iris_model, copy)
    graph = onnx.load_model_from_string((copy / "model.onnx").read_bytes())
    graph.producer_name = "someone else"
    (copy / "model.onnx").write_bytes(graph.SerializeToString())
    with pytest.raises(ModelRejectedError, match=r"does not match manifest\.json"):
        load_served(copy)
    (copy / "model.onnx").unlink()
    with pytest.raises(ModelRejectedError, match=r"model\.onnx"):
        load_served(copy)


@pytest.mark.slow
def test_serve_exits_6_on_a_tampered_onnx_file(iris_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "v1"
    shutil.copytree(iris_model, copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(data))
    done = subprocess.run(
        [sys.executable, "-m", "modelpipe_trainer", "serve", "--model-dir", str(copy)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 6, done.stderr
    assert "does not match manifest.json" in done.stderr
    assert "Traceback" not in done.stderr


def _graph(node: onnx.NodeProto, *, external: bool = False) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1], [2.0])
    if external:
        weight.data_location = TensorProto.EXTERNAL
    graph = helper.make_graph([node], "g", [x], [y], initializer=[weight])
    return helper.make_model(graph)


@pytest.mark.parametrize(
    ("node", "refused"),
    [
        (helper.make_node("Mul", ["x", "w"], ["y"]), []),
        (helper.make_node("Scaler", ["x"], ["y"], domain="ai.onnx.ml"), []),
        (
            helper.make_node("Shell", ["x"], ["y"], domain="com.example"),
            ["operator com.example.Shell"],
        ),
        (helper.make_node("Loop", ["x"], ["y"]), ["operator ai.onnx.Loop"]),
        (helper.make_node("Mul", ["x"], ["y"], domain="ai.onnx.ml"), ["operator ai.onnx.ml.Mul"]),
    ],
    ids=["standard", "ml", "custom-domain", "control-flow", "wrong-domain"],
)
def test_graph_allow_list(node: onnx.NodeProto, refused: list[str]) -> None:
    assert refused_parts(_graph(node)) == refused


def test_external_tensors_are_refused() -> None:
    node = helper.make_node("Mul", ["x", "w"], ["y"])
    assert refused_parts(_graph(node, external=True)) == ["tensors stored outside the file"]


def test_the_onnx_path_imports_neither_pandas_nor_sklearn(iris_model: Path) -> None:
    script = f"""
import sys
from pathlib import Path
from modelpipe_trainer.serving import server
from modelpipe_trainer.serving.app import create_app
from modelpipe_trainer.serving.loading import load_served
from modelpipe_trainer.serving.payloads import columns_from_records, v2_datatype
served = load_served(Path({str(iris_model)!r}))
create_app(served, name="iris")
row = {{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}
print(served.predictor.platform, served.predictor.predict(
    columns_from_records({{"instances": [row]}}, served.schema)).tolist())
print(sorted(m for m in ("pandas", "sklearn", "skops", "scipy", "pyarrow") if m in sys.modules))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["onnxruntime ['setosa']", "[]"]


def test_verification_uses_the_tolerance(iris_model: Path) -> None:
    record = Lineage.model_validate_json((iris_model / "lineage.json").read_bytes()).onnx
    assert record is not None
    assert (record.rel_tolerance, record.abs_tolerance) == (1e-4, 1e-5)
    assert np.isfinite(record.seconds) and record.fit_seconds > 0


def test_feature_names_that_are_not_identifiers_are_served(
    iris: pd.DataFrame, tmp_path: Path
) -> None:
    """skl2onnx renames the graph's inputs ("sepal length (cm)" to "sepal_length__cm_");
    the predictor still feeds each feature to its own input."""
    names = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal/width"]
    frame = iris.rename(columns=dict(zip(IRIS_FEATURES, names, strict=True)))
    result = _train_iris(frame, tmp_path, "sklearn.ensemble.RandomForestClassifier")
    assert result.serving and result.serving.startswith("served by onnxruntime"), result.serving
    assert result.artifact_path is not None
    served = load_served(Path(result.artifact_path), runtime=Runtime.ONNX)
    columns = columns_from_records({"instances": frame[names].to_dict("records")}, served.schema)
    expected = load_bundle(Path(result.artifact_path)).model.predict(frame[names])
    assert served.predictor.predict(columns).tolist() == expected.tolist()
