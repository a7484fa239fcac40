"""Large boosted regressors verify on the ONNX path: the float32 sum of hundreds of trees
drifts from scikit-learn's float64 sum by rounding, and verification allows exactly that
rounding (float32_sums), nothing for classes, and still refuses a graph that is off by
more.

Without the allowance a 200-tree GradientBoostingRegressor on targets of order 1e6 that
are zero on half the rows (a censored quantity: no sale, no claim) differs by about 0.85
on rows predicted near zero, over ``1e-5 + 1e-4 |y|``, and fell back to scikit-learn.
"""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
from modelpipe_contract.runconfig import SchemaSpec, Task
from sklearn.base import BaseEstimator
from sklearn.datasets import make_regression
from sklearn.ensemble import (
    AdaBoostRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
)
from sklearn.model_selection import train_test_split

from modelpipe_trainer import float32_sums
from modelpipe_trainer.documents import ModelSchema
from modelpipe_trainer.evaluation import Holdout
from modelpipe_trainer.modeling import build_pipeline
from modelpipe_trainer.onnx_export import REL_TOLERANCE, OnnxExport, export_onnx
from modelpipe_trainer.serving.onnx_predictor import OnnxPredictor

FEATURES = [f"x{i}" for i in range(5)]


def _frame(scale: float) -> pd.DataFrame:
    """Zero where x0 <= 0, else of order ``100 * scale``."""
    x, y = make_regression(n_samples=800, n_features=5, noise=5, random_state=0)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["target"] = np.where(x[:, 0] > 0, y * scale, 0.0)
    return frame


def _export(frame: pd.DataFrame, estimator: BaseEstimator, task: Task) -> OnnxExport:
    spec = SchemaSpec.model_validate(
        {"target": "target", "features": [{"name": n} for n in FEATURES]}
    )
    train, held = train_test_split(frame, test_size=0.3, random_state=0)
    model = build_pipeline(spec, estimator)
    model.fit(train[FEATURES], train["target"])
    classes = list(model.classes_) if task is Task.CLASSIFICATION else []
    schema = ModelSchema(task=task, target="target", features=spec.features, classes=classes)
    holdout = Holdout(held[FEATURES], held["target"], source="split")
    return export_onnx(model, holdout, schema=schema, fit_seconds=1.0)


def _boosted() -> GradientBoostingRegressor:
    return GradientBoostingRegressor(n_estimators=200, max_depth=4, random_state=0)


def test_a_200_tree_boosted_regressor_verifies_within_its_float32_rounding() -> None:
    exported = _export(_frame(1e4), _boosted(), Task.REGRESSION)
    record = exported.record
    assert record.verified and exported.data is not None, record.reason
    assert record.max_difference is not None and record.max_difference > 0.5
    # Used: the fixed tolerance alone would have refused it (module docstring) ...
    assert record.summation_tolerance > record.max_difference
    # ... and small next to the values it allows for.
    assert record.summation_tolerance < 1e-3 * float(np.abs(_frame(1e4)["target"]).max())


def test_without_the_allowance_it_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The case the allowance exists for (guards the test above against a vacuous pass)."""
    monkeypatch.setattr(float32_sums, "LAMBDA", 0.0)
    record = _export(_frame(1e4), _boosted(), Task.REGRESSION).record
    assert not record.verified
    assert record.reason is not None and "over the tolerance" in record.reason


def test_an_error_beyond_rounding_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph off by a few times the allowance on one row (a different leaf) is not served."""
    served = OnnxPredictor.predict

    def one_row_off(self: OnnxPredictor, columns: dict[str, np.ndarray]) -> np.ndarray:
        values = served(self, columns)
        values = values.copy()
        values[0] += 1000.0  # also S's first row: 1000 more adds ~0.01 to its allowance
        return values

    monkeypatch.setattr(OnnxPredictor, "predict", one_row_off)
    record = _export(_frame(1e4), _boosted(), Task.REGRESSION).record
    assert not record.verified and record.summation_tolerance < 1000.0


def test_classes_get_no_allowance() -> None:
    frame = _frame(1.0)
    frame["target"] = np.where(frame["target"] > 0, "hi", "lo")
    estimator = GradientBoostingClassifier(n_estimators=200, random_state=0)
    record = _export(frame, estimator, Task.CLASSIFICATION).record
    assert record.verified and record.summation_tolerance == 0.0
    assert record.rel_tolerance == REL_TOLERANCE


def test_a_weighted_median_is_not_a_sum() -> None:
    """AdaBoostRegressor's output is a median over trees: no allowance, fixed tolerance."""
    exported = _export(_frame(1.0), AdaBoostRegressor(random_state=0), Task.REGRESSION)
    assert exported.data is not None
    graph = onnx.load_model_from_string(exported.data)
    assert float32_sums.summing_ensemble(graph, graph.graph.output[0].name) is None
    assert exported.record.summation_tolerance == 0.0


def test_the_absolute_graph_sums_absolute_leaves() -> None:
    """Per row, S is at least |prediction| and the allowance follows the rounding model."""
    exported = _export(_frame(1e4), _boosted(), Task.REGRESSION)
    assert exported.data is not None
    graph = onnx.load_model_from_string(exported.data)
    node = float32_sums.summing_ensemble(graph, graph.graph.output[0].name)
    assert node is not None and float32_sums.summed_terms(node) == 202
    absolute = onnx.load_model_from_string(float32_sums.absolute_graph(graph, node.name))
    weights = {
        a.name: list(a.floats)
        for n in absolute.graph.node
        for a in n.attribute
        if n.name == node.name
    }
    assert min(weights["target_weights"]) >= 0 and min(weights["base_values"]) >= 0
    sums = np.array([10.0, 1e6])
    expected = 7.0 * np.sqrt(202) * 2.0**-24 * sums
    assert np.allclose(float32_sums.allowance(sums, 202), expected)
