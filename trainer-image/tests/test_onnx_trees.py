"""Tree models through the ONNX fast path: they verify on the holdout under the stated
tolerance, or are reported and served by scikit-learn.

scikit-learn preprocesses in float64 and its trees then compare ``float32(x)`` with
their thresholds. A graph that casts the raw inputs to float32 first scales them in
float32, lands on the other side of a threshold for rows near a split, and differs
from scikit-learn by whole leaves (a class, 1/100 of a forest's probability, a
different regression leaf). These tests train every tree estimator on iris, wine and
diabetes (numeric and categorical features) and verify the exported graph.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pandas as pd
import pytest
from modelpipe_contract.runconfig import SchemaSpec, Task
from pandas.api.types import is_numeric_dtype
from sklearn.base import BaseEstimator
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

from modelpipe_trainer.documents import ModelSchema, OnnxRecord
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.estimators import resolve_estimator_class
from modelpipe_trainer.evaluation import Holdout
from modelpipe_trainer.modeling import build_pipeline
from modelpipe_trainer.onnx_export import OnnxExport, export_onnx
from modelpipe_trainer.serving.onnx_predictor import OUTPUTS_KEY, OnnxPredictor

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]  # conftest.iris

TREES = ["DecisionTree", "ExtraTree", "RandomForest", "ExtraTrees", "GradientBoosting", "AdaBoost"]
# XGBoost and LightGBM, through onnxmltools' converters (onnx_boosters).
BOOSTERS = ["XGB", "LGBM"]
_MODULES = {
    "DecisionTree": "sklearn.tree",
    "ExtraTree": "sklearn.tree",
    "XGB": "xgboost",
    "LGBM": "lightgbm",
}


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    frame = load_wine(as_frame=True).frame
    frame.columns = [c.replace("/", "_") for c in frame.columns]
    frame["target"] = frame["target"].map({0: "a", 1: "b", 2: "c"})
    return frame


def _estimator(family: str, task: Task, seed: int) -> BaseEstimator:
    suffix = "Classifier" if task is Task.CLASSIFICATION else "Regressor"
    module = _MODULES.get(family, "sklearn.ensemble")
    cls = resolve_estimator_class(f"{module}.{family}{suffix}", allowed_prefixes=["sklearn."])
    params = {"XGB": {"n_estimators": 50}, "LGBM": {"n_estimators": 50, "verbose": -1}}
    return cls(random_state=seed, **params.get(family, {}))


def _export(
    frame: pd.DataFrame,
    target: str,
    family: str,
    task: Task,
    seed: int,
    *,
    estimator: BaseEstimator | None = None,
) -> OnnxExport:
    features = [c for c in frame.columns if c != target]
    spec = SchemaSpec.model_validate(
        {
            "target": target,
            "features": [
                {"name": c, "kind": "numeric" if is_numeric_dtype(frame[c]) else "categorical"}
                for c in features
            ],
        }
    )
    train, held = train_test_split(frame, test_size=0.3, random_state=seed)
    model = build_pipeline(spec, estimator or _estimator(family, task, seed))
    model.fit(train[features], train[target])
    classes = list(model.classes_) if task is Task.CLASSIFICATION else []
    schema = ModelSchema(task=task, target=target, features=spec.features, classes=classes)
    holdout = Holdout(held[features], held[target], source="split")
    return export_onnx(model, holdout, schema=schema, fit_seconds=1.0)


def _assert_verified(record: OnnxRecord) -> None:
    assert record.converted and record.verified, record.reason
    assert record.reason is None and record.max_difference is not None
    assert (record.rel_tolerance, record.abs_tolerance) == (1e-4, 1e-5)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("family", TREES + BOOSTERS)
def test_tree_classifiers_verify(
    iris: pd.DataFrame, wine: pd.DataFrame, family: str, seed: int
) -> None:
    for frame, target in [(iris, "species"), (wine, "target")]:
        exported = _export(frame, target, family, Task.CLASSIFICATION, seed)
        _assert_verified(exported.record)
        assert exported.data is not None


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("family", TREES + BOOSTERS)
def test_tree_regressors_verify(diabetes: pd.DataFrame, family: str, seed: int) -> None:
    """Diabetes has a categorical column (sex) next to the numeric ones."""
    exported = _export(diabetes, "target", family, Task.REGRESSION, seed)
    _assert_verified(exported.record)


@pytest.mark.parametrize("family", BOOSTERS)
@pytest.mark.parametrize(
    "labels",
    [{"setosa": 3, "versicolor": 7, "virginica": 9}, {"versicolor": 3, "virginica": 7}],
    ids=["gapped-integers", "binary"],
)
def test_booster_classes_come_back_as_given(
    iris: pd.DataFrame, family: str, labels: dict[str, int]
) -> None:
    """XGBoost is fitted on codes 0..n-1 (labels.py); its graph maps them back to the labels,
    and verification holds the classes to the Pipeline's, values and type."""
    coded = iris[iris["species"].isin(list(labels))]
    coded = coded.assign(species=coded["species"].map(labels))
    exported = _export(coded, "species", family, Task.CLASSIFICATION, 0)
    _assert_verified(exported.record)
    assert exported.data is not None
    graph = onnx.load_model_from_string(exported.data)
    assert {n.op_type for n in graph.graph.node} >= {"TreeEnsembleClassifier"}


def test_a_booster_the_converter_gets_wrong_is_served_by_scikit_learn(
    diabetes: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    """onnxmltools converts LightGBM's linear leaves (linear_tree) as constant leaves: the
    graph runs, verification refuses it, and the reason is reported."""
    cls = resolve_estimator_class("lightgbm.LGBMRegressor", allowed_prefixes=[])
    linear = cls(n_estimators=20, linear_tree=True, verbose=-1, random_state=0)
    with caplog.at_level(logging.WARNING):
        exported = _export(diabetes, "target", "LGBM", Task.REGRESSION, 0, estimator=linear)
    assert exported.record.converted and not exported.record.verified
    assert exported.data is None
    assert (exported.record.reason or "").startswith("outputs differ by up to ")
    assert "served by scikit-learn" in caplog.text


def test_the_served_graph_takes_float64_and_answers_like_scikit_learn(
    iris: pd.DataFrame,
) -> None:
    """The predictor feeds the graph the dtype it declares; a tree's rows near a split agree."""
    exported = _export(iris, "species", "RandomForest", Task.CLASSIFICATION, 0)
    assert exported.data is not None
    schema = ModelSchema(
        task=Task.CLASSIFICATION,
        target="species",
        features=SchemaSpec.model_validate(
            {"target": "species", "features": [{"name": n} for n in IRIS_FEATURES]}
        ).features,
        classes=["setosa", "versicolor", "virginica"],
    )
    predictor = OnnxPredictor(exported.data, schema, source="the test graph")
    inputs = predictor.session.get_inputs()
    assert {i.type for i in inputs} == {"tensor(double)"}
    columns = {n: iris[n].to_numpy(dtype=np.float64) for n in IRIS_FEATURES}
    assert predictor.predict(columns).dtype == object


def test_a_tree_model_that_fails_verification_is_reported(
    iris: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A graph that differs is still never served: no bytes, a reason, a warning."""

    def off_by_one_leaf(self: OnnxPredictor, columns: dict[str, np.ndarray]) -> np.ndarray:
        proba = np.asarray(self._run("predict_proba", columns), dtype=np.float64)
        return proba + 0.01

    monkeypatch.setattr(OnnxPredictor, "predict_proba", off_by_one_leaf)
    with caplog.at_level(logging.WARNING):
        exported = _export(iris, "species", "RandomForest", Task.CLASSIFICATION, 0)
    assert exported.data is None and not exported.record.verified
    assert exported.record.reason == "outputs differ by up to 0.01, over the tolerance"
    assert "served by scikit-learn" in caplog.text


def _identity_graph(elem_type: int) -> bytes:
    """A graph with one input ``x`` of ``elem_type``, answering it back as ``predict``."""
    x = onnx.helper.make_tensor_value_info("x", elem_type, [None, 1])
    y = onnx.helper.make_tensor_value_info("y", elem_type, [None, 1])
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    graph = onnx.helper.make_model(
        onnx.helper.make_graph([node], "g", [x], [y]),
        opset_imports=[onnx.helper.make_opsetid("", 18)],
    )
    onnx.helper.set_model_props(graph, {OUTPUTS_KEY: json.dumps({"predict": "y"})})
    return bytes(graph.SerializeToString())


_ONE_NUMERIC = ModelSchema(
    task=Task.REGRESSION,
    target="y",
    features=SchemaSpec.model_validate({"target": "y", "features": [{"name": "x"}]}).features,
)


@pytest.mark.parametrize(
    ("elem_type", "answer"),
    [(onnx.TensorProto.DOUBLE, 0.1), (onnx.TensorProto.FLOAT, float(np.float32(0.1)))],
    ids=["float64", "float32-graph-of-an-older-trainer"],
)
def test_each_input_is_fed_the_type_the_graph_declares(elem_type: int, answer: float) -> None:
    predictor = OnnxPredictor(_identity_graph(elem_type), _ONE_NUMERIC, source="the test graph")
    assert predictor.predict({"x": np.array([0.1])}).tolist() == [answer]


def test_a_text_input_for_a_numeric_feature_is_refused() -> None:
    with pytest.raises(ModelRejectedError, match=r"inputs \['x \(STRING\)'\], expected"):
        OnnxPredictor(
            _identity_graph(onnx.TensorProto.STRING), _ONE_NUMERIC, source="the test graph"
        )
