"""The skops allowlist: legitimate pipelines load, tampered and corrupt files are refused."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from modelpipe_contract.runconfig import EstimatorSpec, SchemaSpec, Task
from sklearn.datasets import load_iris
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import all_estimators

from modelpipe_trainer.bundle import load_bundle, load_model, serialize_model
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.estimators import build_estimator
from modelpipe_trainer.modeling import build_pipeline
from modelpipe_trainer.trust import refused_types

_SCHEMA = SchemaSpec.model_validate(
    {
        "target": "y",
        "features": [{"name": "a"}, {"name": "b"}, {"name": "c", "kind": "categorical"}],
    }
)


def _data() -> tuple[pd.DataFrame, pd.Series]:
    x, y = load_iris(return_X_y=True)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 2], "c": np.where(x[:, 1] > 3, "hi", "lo")})
    return frame.astype({"c": object}), pd.Series(y)


@pytest.mark.parametrize(
    "class_path",
    [
        "sklearn.linear_model.LogisticRegression",
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "sklearn.neighbors.KNeighborsClassifier",
        "sklearn.neural_network.MLPClassifier",
    ],
)
def test_trainer_pipelines_round_trip(tmp_path: Path, class_path: str) -> None:
    spec = EstimatorSpec.model_validate({"className": class_path})
    model = build_pipeline(_SCHEMA, build_estimator(spec, task=Task.CLASSIFICATION, seed=0))
    frame, target = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(frame, target)
    path = tmp_path / "model.skops"
    path.write_bytes(serialize_model(model))
    loaded = load_model(path)
    assert (loaded.predict(frame) == model.predict(frame)).all()


def test_tampered_type_is_refused_with_its_name(tampered_model: Path) -> None:
    with pytest.raises(ModelRejectedError) as caught:
        load_model(tampered_model / "model.skops")
    assert "outside the allowlist" in str(caught.value)
    assert "builtins.eval" in str(caught.value)


def test_allowlisted_but_changed_coefficients_are_refused_by_the_manifest(
    iris_model: Path, tmp_path: Path
) -> None:
    """Only allowlisted types, so the allowlist passes it: the manifest is what catches it."""
    copy = tmp_path / "v1"
    shutil.copytree(iris_model, copy)
    model = load_model(copy / "model.skops")
    last = model.steps[-1][1]
    assert hasattr(last, "coef_"), "the iris example's estimator is linear"
    last.coef_ = -last.coef_
    (copy / "model.skops").write_bytes(serialize_model(model))
    with pytest.raises(ModelRejectedError, match=r"does not match manifest\.json"):
        load_bundle(copy)
    (copy / "manifest.json").unlink()  # a model trained before the manifest still loads
    assert load_bundle(copy).model is not None


def test_function_payload_is_refused(tmp_path: Path) -> None:
    import os

    path = tmp_path / "model.skops"
    path.write_bytes(sio.dumps(Pipeline([("f", FunctionTransformer(os.system))])))
    with pytest.raises(ModelRejectedError, match=r"posix\.system"):
        load_model(path)


@pytest.mark.parametrize(
    "damage",
    [lambda b: b"", lambda b: b[: len(b) // 2], lambda b: b"PK\x03\x04" + b"\x00" * 64],
    ids=["empty", "truncated", "garbage-zip"],
)
def test_corrupt_file_is_refused(
    tmp_path: Path, iris_model: Path, damage: Callable[[bytes], bytes]
) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(damage((iris_model / "model.skops").read_bytes()))
    with pytest.raises(ModelRejectedError, match="not a readable skops file"):
        load_model(path)


def test_non_pipeline_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(sio.dumps({"not": "a model"}))
    with pytest.raises(ModelRejectedError, match="not the scikit-learn Pipeline"):
        load_model(path)


def test_bundle_needs_its_documents(tmp_path: Path, iris_model: Path) -> None:
    copy = tmp_path / "v1"
    copy.mkdir()
    (copy / "model.skops").write_bytes((iris_model / "model.skops").read_bytes())
    with pytest.raises(ModelRejectedError, match=r"schema\.json"):
        load_bundle(copy)
    (copy / "schema.json").write_text('{"task": "classification"}')
    with pytest.raises(ModelRejectedError, match="not a valid ModelSchema"):
        load_bundle(copy)


def test_names_outside_sklearn_are_never_imported() -> None:
    assert refused_types(["os.system", "sklearn.tree._tree.Tree", "numpy.dtype"]) == ["os.system"]
    assert refused_types(["sklearn.utils.Bunch"]) == ["sklearn.utils.Bunch"]
    assert refused_types(["xgboost.XGBClassifier"], extra_prefixes=["xgboost."]) == []


def test_boosting_types_are_vetted_by_exact_name() -> None:
    vetted = ["xgboost.sklearn.XGBClassifier", "xgboost.core.Booster", "lightgbm.basic.Booster"]
    assert refused_types([*vetted, "lightgbm.sklearn.LGBMRegressor"]) == []
    others = ["xgboost.core.DMatrix", "lightgbm.basic.Dataset", "xgboost.sklearn.XGBRanker"]
    assert refused_types(others) == sorted(others)


@pytest.mark.slow
def test_every_sklearn_estimator_loads_under_the_allowlist() -> None:
    """Fit each estimator that can be built with defaults; its pipeline must load untouched.

    This is how VETTED_TYPES was found; it fails when a scikit-learn upgrade adds state types.
    """
    frame, target = _data()
    refused: dict[str, list[str]] = {}
    for kind in ("classifier", "regressor"):
        for name, cls in all_estimators(type_filter=kind):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = build_pipeline(_SCHEMA, cls()).fit(frame, target)
            except Exception:  # estimators needing arguments or special data are skipped
                continue
            bad = refused_types(sio.get_untrusted_types(data=sio.dumps(model)))
            if bad:
                refused[name] = bad
    assert refused == {}
