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
from sklearn.base import BaseEstimator, is_classifier
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from modelpipe_trainer.documents import ModelSchema, OnnxRecord
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.estimators import resolve_estimator_class
from modelpipe_trainer.evaluation import Holdout
from modelpipe_trainer.modeling import build_pipeline
from modelpipe_trainer.onnx_boosters import register_boosters
from modelpipe_trainer.onnx_export import TARGET_OPSET, OnnxExport, export_onnx
from modelpipe_trainer.serving import onnx_predictor
from modelpipe_trainer.serving.onnx_predictor import OUTPUTS_KEY, OnnxPredictor

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]  # conftest.iris

TREES = ["DecisionTree", "ExtraTree", "RandomForest", "ExtraTrees", "GradientBoosting", "AdaBoost"]
# XGBoost and LightGBM, through onnxmltools' converters, and HistGradientBoosting, through
# skl2onnx's with float64 thresholds and leaves (onnx_boosters).
BOOSTERS = ["XGB", "LGBM", "HistGradientBoosting"]
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
    params = {
        "XGB": {"n_estimators": 50},
        "LGBM": {"n_estimators": 50, "verbose": -1},
        "HistGradientBoosting": {"max_iter": 300},
    }
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
    model, schema, holdout = _fit(frame, target, estimator or _estimator(family, task, seed), seed)
    return export_onnx(model, holdout, schema=schema, fit_seconds=1.0)


def _fit(
    frame: pd.DataFrame, target: str, estimator: BaseEstimator, seed: int
) -> tuple[Pipeline, ModelSchema, Holdout]:
    """The trainer's Pipeline fitted on 70% of ``frame``, its schema, the other 30%."""
    task = Task.CLASSIFICATION if is_classifier(estimator) else Task.REGRESSION
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
    model = build_pipeline(spec, estimator)
    model.fit(train[features], train[target])
    classes = list(model.classes_) if task is Task.CLASSIFICATION else []
    schema = ModelSchema(task=task, target=target, features=spec.features, classes=classes)
    return model, schema, Holdout(held[features], held[target], source="split")


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
    and verification holds the classes to the Pipeline's, values and type. A binary
    HistGradientBoosting has one score column (LOGISTIC), a multiclass one a column per class
    (SOFTMAX): both verify."""
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


@pytest.mark.parametrize("family", BOOSTERS)
@pytest.mark.parametrize("task", [Task.CLASSIFICATION, Task.REGRESSION])
def test_booster_rows_on_its_splits_take_its_branches(
    wine: pd.DataFrame, diabetes: pd.DataFrame, family: str, task: Task
) -> None:
    """HistGradientBoosting and LightGBM compare the scaled float64 value with a float64
    threshold (``x <= t``), XGBoost its float32 cast with a float32 one (``x < t``). Rows a
    few steps of that precision either side of every threshold the model learned get the
    Pipeline's class bit for bit and its outputs within the tolerance; a graph that scales
    or compares in another precision sends some of them down the other branch."""
    frame, target = (wine, "target") if task is Task.CLASSIFICATION else (diabetes, "target")
    params = {"max_iter": 30} if family == "HistGradientBoosting" else {"n_estimators": 30}
    estimator = _estimator(family, task, 0).set_params(**params)
    model, schema, holdout = _fit(frame, target, estimator, 0)
    exported = export_onnx(model, holdout, schema=schema, fit_seconds=1.0)
    _assert_verified(exported.record)
    assert exported.data is not None
    rows = _rows_around_thresholds(model, schema, holdout.features.iloc[0])
    predictor = OnnxPredictor(exported.data, schema, source="the test graph")
    columns = {c: rows[c].to_numpy() for c in rows.columns}
    expected, got = model.predict(rows), predictor.predict(columns)
    if task is Task.CLASSIFICATION:
        assert got.tolist() == expected.tolist()
        expected, got = model.predict_proba(rows), predictor.predict_proba(columns)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def _splits(estimator: BaseEstimator) -> tuple[list[tuple[int, float]], type[np.floating]]:
    """Every (feature index, threshold) of a fitted booster's trees, on the scaled matrix
    the Pipeline hands it, and the precision it compares in."""
    found: list[tuple[int, float]] = []
    if hasattr(estimator, "_predictors"):  # HistGradientBoosting
        for trees in estimator._predictors:
            for tree in trees:
                inner = tree.nodes[tree.nodes["is_leaf"] == 0]
                found += [(int(n["feature_idx"]), float(n["num_threshold"])) for n in inner]
        return found, np.float64
    if hasattr(estimator, "booster_"):  # LightGBM
        stack = [t["tree_structure"] for t in estimator.booster_.dump_model()["tree_info"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                found.append((int(node["split_feature"]), float(node["threshold"])))
                stack += [node["left_child"], node["right_child"]]
        return found, np.float64
    booster = getattr(estimator, "estimator_", estimator)  # a classifier is label-encoded
    table = booster.get_booster().trees_to_dataframe()  # XGBoost
    inner = table[table["Feature"] != "Leaf"]
    pairs = zip(inner["Feature"], inner["Split"], strict=True)
    found += [(int(feature.lstrip("f")), float(split)) for feature, split in pairs]
    return found, np.float32


def _rows_around_thresholds(model: Pipeline, schema: ModelSchema, base: pd.Series) -> pd.DataFrame:
    """``base`` with one numeric feature moved around every split on a numeric feature (the
    one-hot columns, 0 or 1 against 0.5, come after them), seven rows a split, checked to
    fall on both sides of it as the booster compares.

    HistGradientBoosting and LightGBM compare the scaled float64 value: the last raw value
    the Pipeline sends left (found by stepping the raw value) and three float64 steps of
    the raw value either side, so every split is straddled. XGBoost compares its float32
    cast: raw values that scale to three float32 steps either side of the threshold."""
    numeric = [f.name for f in schema.features if f.kind.value == "numeric"]
    preprocess = model.named_steps["preprocess"].named_transformers_["numeric"]
    scaler = preprocess.named_steps["scale"]
    splits, precision = _splits(model.named_steps["estimator"])
    rows, straddled, numeric_splits = [], 0, 0
    for feature, threshold in splits:
        if feature >= len(numeric):
            continue
        numeric_splits += 1
        mean, scale = scaler.mean_[feature], scaler.scale_[feature]
        if precision is np.float64:
            last = _last_left(threshold, mean, scale)
            raws = [_stepped(last, n) for n in range(-3, 4)]
        else:
            steps = [_stepped(np.float32(threshold), n) for n in range(-3, 4)]
            raws = [np.float64(float(v) * scale + mean) for v in steps]
        scaled = (np.array(raws) - mean) / scale  # as StandardScaler computes it
        if precision is np.float64:
            left = scaled <= threshold
        else:
            left = scaled.astype(np.float32) < np.float32(threshold)
        straddled += int(left.any() and not left.all())
        for raw in raws:
            rows.append(base.copy())
            rows[-1][numeric[feature]] = float(raw)
    # float32 steps mapped back to raw float64 values can round onto one side (1 in ~1,000).
    enough = numeric_splits if precision is np.float64 else 0.99 * numeric_splits
    assert numeric_splits > 15 and straddled >= enough, (straddled, numeric_splits)
    return pd.DataFrame(rows).astype(base.to_frame().T.dtypes.to_dict())


def _last_left(threshold: float, mean: float, scale: float) -> np.float64:
    """The largest raw float64 value whose scaled value is ``<= threshold``."""
    raw = np.float64(threshold * scale + mean)
    left = bool((raw - mean) / scale <= threshold)
    for _ in range(1_000):
        beyond = np.nextafter(raw, np.inf if left else -np.inf)
        if bool((beyond - mean) / scale <= threshold) != left:
            return raw if left else beyond
        raw = beyond
    raise AssertionError(f"no boundary near the threshold {threshold}")


def _stepped(value: np.floating, steps: int) -> np.floating:
    """``value`` moved ``steps`` steps of its own precision (negative: down)."""
    for _ in range(abs(steps)):
        value = np.nextafter(value, type(value)(np.inf if steps > 0 else -np.inf))
    return value


@pytest.mark.parametrize("task", [Task.CLASSIFICATION, Task.REGRESSION])
def test_hist_gradient_boosting_sends_missing_values_where_it_learned(task: Task) -> None:
    """The trainer's Pipeline imputes before the estimator, but the converter alone keeps
    HistGradientBoosting's learned side for NaN (``nodes_missing_value_tracks_true``)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    x, y = _with_missing_values(np.random.default_rng(0))
    if task is Task.CLASSIFICATION:
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y > 0.5)
    else:
        model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(x, y)
    sides = {bool(n["missing_go_to_left"]) for t in model._predictors for n in t[0].nodes}
    assert sides == {True, False}
    outputs = _run_bare_graph(model, x)
    if task is Task.CLASSIFICATION:
        assert outputs[0].tolist() == model.predict(x).tolist()
        np.testing.assert_allclose(outputs[1], model.predict_proba(x), rtol=1e-4, atol=1e-5)
    else:
        np.testing.assert_allclose(outputs[0].ravel(), model.predict(x), rtol=1e-4, atol=1e-5)


def test_hist_gradient_boosting_with_categorical_splits_is_not_converted() -> None:
    """A categorical split tests a bitset, which no tree operator on the list does: refused
    (the trainer then reports "no ONNX conversion" and serves scikit-learn)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _with_missing_values(np.random.default_rng(1))
    x[:, 0] = np.nan_to_num(x[:, 0] * 4, nan=0).astype(int) % 5
    model = HistGradientBoostingClassifier(categorical_features=[0], max_iter=10).fit(x, y > 0.5)
    with pytest.raises(NotImplementedError, match="categorical splits"):
        _run_bare_graph(model, x)


def _with_missing_values(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose NaNs say something about the target, in both directions."""
    x = rng.normal(size=(600, 3))
    y = x[:, 0] + x[:, 1] ** 2
    x[:, 0][y > 1.5] = np.nan  # missing means high: NaN learned on one side...
    x[:, 1][rng.random(600) < 0.2] = np.nan  # ...and missing at random on another
    y[np.isnan(x[:, 1])] -= 2  # ...low
    return x, y


def _run_bare_graph(model: BaseEstimator, x: np.ndarray) -> list[np.ndarray]:
    """``model`` alone converted with float64 input (onnx_boosters' converter), run on ``x``."""
    import onnxruntime
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    register_boosters()
    options = {id(model): {"zipmap": False}} if is_classifier(model) else None
    graph = convert_sklearn(
        model,
        initial_types=[("x", DoubleTensorType([None, x.shape[1]]))],
        options=options,
        target_opset=TARGET_OPSET,
    )
    session = onnxruntime.InferenceSession(
        graph.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return [np.asarray(o) for o in session.run(None, {"x": x})]


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


def test_labels_of_another_type_than_the_pipelines_are_refused_and_say_so(
    iris: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Classes are compared as values and as types: a graph whose labels would come out as
    int64 where the Pipeline's are bool is not served, and the reason names both types."""
    monkeypatch.setattr(onnx_predictor, "class_labels", lambda classes: None)  # no mapping
    coded = iris.assign(species=iris["species"] != "setosa")
    exported = _export(coded, "species", "RandomForest", Task.CLASSIFICATION, 0)
    assert exported.data is None and not exported.record.verified
    assert exported.record.reason == "the graph's class labels are int64, the Pipeline's bool"
