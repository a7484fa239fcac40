"""XGBoost, LightGBM and HistGradientBoosting inside the Pipeline's ONNX graph:
onnxmltools' converters, and skl2onnx's own for HistGradientBoosting, registered with
skl2onnx.

skl2onnx converts a Pipeline step by step and knows only scikit-learn's estimators.
onnxmltools holds converters for the boosting libraries written against skl2onnx's own
scope/operator/container API; registering them with skl2onnx's shape calculators
(``update_registered_converter``) lets the boosters convert inside the Pipeline,
preprocessing included, and go through the same allow-list and verification as every
other model (:mod:`modelpipe_trainer.onnx_export`). XGBoost's classifiers are fitted on
label codes through :class:`~modelpipe_trainer.labels.LabelEncodedClassifier`; its
converter here runs XGBoost's converter on the codes, then ``Gather``s the sorted labels
by code, which is what the wrapper's ``inverse_transform`` does. ``predict_proba``'s
columns need nothing: they are in code order, which is the labels' sorted order.

Operators: the boosters' converters emit ``TreeEnsembleClassifier`` /
``TreeEnsembleRegressor`` (plus ``Identity``) and the wrapper adds ``Gather``, all on
the allow-list (:mod:`modelpipe_trainer.graphs`); nothing was added to it. An objective
whose converter needs more (XGBoost's ``count:poisson`` multiplies by ``Exp``) either
stays on the list or is refused there and served by scikit-learn, reported.

Why the same verification (identical classes, outputs within the tolerance) holds:

- **XGBoost** casts its input to float32, keeps thresholds and leaves in float32 and
  goes left on ``x < t``; the graph's cast to float32 before the estimator and the tree
  operator's ``BRANCH_LT`` compare exactly the same numbers, so every row reaches the
  same leaves. XGBoost also adds its leaves in float32, so a regressor's prediction is
  a float32 sum on *both* sides; each side is within :mod:`float32_sums`' bound of the
  exact sum, so their difference is within twice it: :func:`float32_sum_sides` is 2.
- **LightGBM** keeps thresholds and leaves in float64 and goes left on ``x <= t`` in
  float64, so a float32 graph would not do: ``float32(x) <= float32(t)`` sent rows
  within one float32 step above a threshold the other way, and LightGBM's thresholds
  sit next to training values (a diabetes regressor's holdout had two such rows, off
  by 9.3). So the graph feeds LightGBM float64 (no cast after scaling) and its tree
  operator gets thresholds, leaves and base values as float64 tensors
  (``nodes_values_as_tensor`` and friends, ONNX ML opset 3, which onnxruntime runs on
  float64 input): every comparison is LightGBM's own. onnxruntime adds those leaves in
  float64 and rounds the score once to float32 (the operator's output type), well
  inside the fixed tolerance; :mod:`float32_sums` finds no float32 leaf list there and
  adds no allowance. Leaf models (``linear_tree``) are not converted by onnxmltools:
  such a graph fails verification and is served by scikit-learn.
- **HistGradientBoosting** bins only to fit: it predicts by comparing the float64 input
  with float64 thresholds (``x <= t``) and adds float64 leaves to a float64 baseline,
  so its graph is LightGBM's: float64 input, no cast, skl2onnx's converter asked for ML
  opset 3 (float64 attribute arrays) and :class:`_Float64Trees` storing them as tensors
  (and making its numpy ``uint32`` node ids ints: with them no node was built). The
  graph scales with ``Sub`` then ``Div`` in float64, the very operations of
  ``StandardScaler``, so the estimator sees the same bits and every comparison is its
  own (compared in float32, a 300-iteration diabetes regressor was 1.03 off). NaN takes
  the side it learned (``missing_go_to_left`` becomes ``nodes_missing_value_tracks_true``),
  though the Pipeline imputes before it. Refused at conversion (served by scikit-learn,
  reported): categorical splits, a bitset test no tree operator on the list has, and a
  regressor whose loss has a log link (``poisson``, ``gamma``), which the converter
  ignores. The sums differ only by their order (and onnxruntime's one rounding of the
  scores to float32), so a class could differ only on a row whose scores tie to within
  that rounding; verification would refuse such a graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from modelpipe_trainer.labels import LabelEncodedClassifier, configured

BOOSTING_LIBRARIES = ("xgboost.", "lightgbm.")
_CLASSIFIER_OPTIONS = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
_XGB_CLASSIFIER = "XGBoostXGBClassifier"
_registered = False


def register_boosters() -> None:
    """Make skl2onnx convert XGBoost's and LightGBM's scikit-learn estimators, the
    label-code wrapper, and HistGradientBoosting in float64; once per process. Imports the
    libraries: call it only to convert."""
    global _registered
    if _registered:
        return
    from lightgbm import LGBMClassifier, LGBMRegressor
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes as classifier_shapes,
    )
    from skl2onnx.common.shape_calculator import (
        calculate_linear_regressor_output_shapes as regressor_shapes,
    )
    from xgboost import XGBClassifier, XGBRegressor

    update_registered_converter(
        XGBClassifier,
        _XGB_CLASSIFIER,
        classifier_shapes,
        convert_xgboost,
        options=_CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        XGBRegressor, "XGBoostXGBRegressor", regressor_shapes, convert_xgboost
    )

    def convert_lightgbm_float64(scope: Any, operator: Any, container: Any) -> None:
        convert_lightgbm(scope, operator, _Float64Trees(container))

    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        _float_outputs(classifier_shapes),
        convert_lightgbm_float64,
        options=_CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        LGBMRegressor,
        "LightGbmLGBMRegressor",
        _float_outputs(regressor_shapes),
        convert_lightgbm_float64,
        options={"split": None},  # one tree operator, not several summed
    )
    _register_hist_gradient_boosting(classifier_shapes, regressor_shapes)
    update_registered_converter(
        LabelEncodedClassifier,
        "ModelpipeLabelEncodedClassifier",
        classifier_shapes,
        _convert_label_encoded,
        options=_CLASSIFIER_OPTIONS,
    )
    _registered = True


def is_booster(estimator: BaseEstimator) -> bool:
    """Whether ``estimator`` (or the one a label-code wrapper holds) needs these converters."""
    inner = configured(estimator)
    return type(inner).__module__.startswith(BOOSTING_LIBRARIES) or _is_hist(inner)


def takes_float64(estimator: BaseEstimator) -> bool:
    """Whether the graph feeds ``estimator`` float64 (LightGBM, HistGradientBoosting)
    instead of casting to float32."""
    inner = configured(estimator)
    return type(inner).__module__.startswith("lightgbm.") or _is_hist(inner)


def _is_hist(estimator: BaseEstimator) -> bool:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    return isinstance(estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor)


def _register_hist_gradient_boosting(classifier_shapes: Any, regressor_shapes: Any) -> None:
    """skl2onnx's own HistGradientBoosting converters at ML opset 3 (float64 thresholds
    and leaves, then stored as tensors by :class:`_Float64Trees`), refusing what they
    would get wrong: categorical splits (bitsets) and a regressor's non-identity link."""
    from skl2onnx import update_registered_converter
    from skl2onnx.operator_converters.random_forest import (
        convert_sklearn_random_forest_classifier as convert_classifier,
    )
    from skl2onnx.operator_converters.random_forest import (
        convert_sklearn_random_forest_regressor_converter as convert_regressor,
    )
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    def convert_hist_classifier(scope: Any, operator: Any, container: Any) -> None:
        _refuse_categorical_splits(operator.raw_operator)
        convert_classifier(scope, operator, _Float64Trees(container), op_version=3)

    def convert_hist_regressor(scope: Any, operator: Any, container: Any) -> None:
        model = operator.raw_operator
        _refuse_categorical_splits(model)
        if model.loss not in _IDENTITY_LINK_LOSSES:  # poisson/gamma predict exp(raw)
            raise NotImplementedError(f"loss {model.loss!r} has a log link, not converted")
        convert_regressor(scope, operator, _Float64Trees(container), op_version=3)

    update_registered_converter(
        HistGradientBoostingClassifier,
        "SklearnHistGradientBoostingClassifier",
        _float_outputs(classifier_shapes),
        convert_hist_classifier,
        options={**_CLASSIFIER_OPTIONS, "raw_scores": [True, False]},
    )
    update_registered_converter(
        HistGradientBoostingRegressor,
        "SklearnHistGradientBoostingRegressor",
        _float_outputs(regressor_shapes),
        convert_hist_regressor,
    )


_IDENTITY_LINK_LOSSES = frozenset({"squared_error", "absolute_error", "quantile"})


def _refuse_categorical_splits(model: Any) -> None:
    if any(tree.nodes["is_categorical"].any() for trees in model._predictors for tree in trees):
        raise NotImplementedError("categorical splits (bitsets) have no ONNX tree operator")


def float32_sum_sides(estimator: BaseEstimator) -> int:
    """How many of the two runtimes add a regressor's leaves in float32: 2 for XGBoost
    (it does so itself), 1 for everything else (scikit-learn and LightGBM add in float64)."""
    return 2 if type(configured(estimator)).__module__.startswith("xgboost.") else 1


def _convert_label_encoded(scope: Any, operator: Any, container: Any) -> None:
    """The wrapped classifier on the codes, then ``labels = Gather(classes, codes)``."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    wrapper = operator.raw_operator
    inner = scope.declare_local_operator(
        sklearn_operator_name_map[type(wrapper.estimator_)], wrapper.estimator_
    )
    inner.inputs = operator.inputs
    codes = scope.declare_local_variable("codes", Int64TensorType())
    inner.outputs.append(codes)
    probabilities = scope.declare_local_variable("code_probabilities", FloatTensorType())
    inner.outputs.append(probabilities)
    labels, kind = _label_tensor(wrapper.classes_)
    classes = scope.get_unique_variable_name("classes")
    container.add_initializer(classes, kind, [len(labels)], labels)
    container.add_node(
        "Gather",
        [classes, codes.full_name],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Gather"),
        axis=0,
    )
    if len(operator.outputs) > 1:
        container.add_node(
            "Identity",
            [probabilities.full_name],
            [operator.outputs[1].full_name],
            name=scope.get_unique_operator_name("Identity"),
        )


_TREE_ENSEMBLES = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor"})
_FLOAT64_ATTRIBUTES = ("nodes_values", "target_weights", "class_weights", "base_values")


class _Float64Trees:
    """skl2onnx's container, except that a tree ensemble keeps its thresholds, leaves and
    base values as float64 tensors (``*_as_tensor``): onnxmltools hands them over as the
    Python floats of LightGBM's model dump, which ``add_node`` would round to float32."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(self, op_type: str, inputs: Any, outputs: Any, **attrs: Any) -> None:
        if op_type in _TREE_ENSEMBLES:
            from onnx import TensorProto, helper

            for name, value in attrs.items():  # numpy ids (uint32 in HistGradientBoosting)
                if isinstance(value, list) and value and isinstance(value[0], np.integer):
                    attrs[name] = [int(v) for v in value]

            for name in _FLOAT64_ATTRIBUTES:
                if name in attrs:
                    values = [float(v) for v in attrs.pop(name)]
                    attrs[f"{name}_as_tensor"] = helper.make_tensor(
                        name, TensorProto.DOUBLE, [len(values)], values
                    )
        self._container.add_node(op_type, inputs, outputs, **attrs)


def _float_outputs(shapes: Any) -> Any:
    """skl2onnx's shape calculator, but a float64 input still gives float32 scores: the
    ensemble operators' scores are float32 (they add in float64, then round once)."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    def calculate(operator: Any) -> None:
        shapes(operator)
        for output in operator.outputs:
            if isinstance(output.type, DoubleTensorType):
                output.type = FloatTensorType(output.type.shape)

    return calculate


def _label_tensor(classes: np.ndarray) -> tuple[list[Any], int]:
    """The labels as an ONNX initializer's values and element type: text or int64, the
    two label types skl2onnx's shape calculator declares. Bool and whole-number float
    labels go in as int64, as skl2onnx's own classifiers put them, and the predictor maps
    each code back to its class (onnx_predictor.class_labels); anything else does not
    convert."""
    from onnx import TensorProto

    if all(isinstance(c, str) for c in classes):
        return [str(c).encode("utf-8") for c in classes], TensorProto.STRING
    whole = classes.dtype.kind == "f" and bool(np.all(np.mod(classes, 1) == 0))
    if np.issubdtype(classes.dtype, np.integer) or classes.dtype == np.bool_ or whole:
        return [int(c) for c in classes], TensorProto.INT64
    raise TypeError(f"labels of type {classes.dtype} have no ONNX label tensor here")
