"""Which ONNX graphs the server will run: standard operators on an allow-list, nothing else.

An ONNX file is protobuf, not pickle: loading it runs no code. What it can do is
name operators, and onnxruntime runs whatever kernels those names resolve to. The
allow-list keeps that to the plain arithmetic, tree, linear and encoding operators
skl2onnx emits for the trainer's pipelines. Refused outright:

- any domain other than ``ai.onnx`` and ``ai.onnx.ml``: a custom operator needs a
  shared library registered with onnxruntime, which the server never does, so such a
  graph could not run anyway; refusing says why instead of failing mid-request;
- control flow (``If``, ``Loop``, ``Scan``) and model-local functions: subgraphs the
  allow-list would have to follow;
- tensors stored outside the file (external data): a path the file chooses.

The trainer runs the same check before it calls a conversion verified, so a graph
the server would refuse is never written.
"""

from __future__ import annotations

from typing import Any

ONNX_DOMAINS = frozenset({"", "ai.onnx"})
ML_DOMAIN = "ai.onnx.ml"
ONNX_OPS = frozenset(
    [
        "Abs",
        "Add",
        "And",
        "ArgMax",
        "ArgMin",
        "Cast",
        "CastLike",
        "Ceil",
        "Clip",
        "Concat",
        "Constant",
        "ConstantOfShape",
        "CumSum",
        "Div",
        "Equal",
        "Erf",
        "Exp",
        "Expand",
        "Flatten",
        "Floor",
        "Gather",
        "GatherElements",
        "Gemm",
        "Greater",
        "GreaterOrEqual",
        "Identity",
        "IsInf",
        "IsNaN",
        "Less",
        "LessOrEqual",
        "Log",
        "MatMul",
        "Max",
        "Mean",
        "Min",
        "Mul",
        "Neg",
        "Not",
        "Or",
        "Pow",
        "Reciprocal",
        "ReduceL2",
        "ReduceLogSumExp",
        "ReduceMax",
        "ReduceMean",
        "ReduceMin",
        "ReduceProd",
        "ReduceSum",
        "ReduceSumSquare",
        "Relu",
        "Reshape",
        "Round",
        "Shape",
        "Sigmoid",
        "Sign",
        "Slice",
        "Softmax",
        "Softplus",
        "Sqrt",
        "Squeeze",
        "Sub",
        "Sum",
        "Tanh",
        "Tile",
        "TopK",
        "Transpose",
        "Unsqueeze",
        "Where",
        "Xor",
    ]
)
ML_OPS = frozenset(
    [
        "ArrayFeatureExtractor",
        "Binarizer",
        "FeatureVectorizer",
        "Imputer",
        "LabelEncoder",
        "LinearClassifier",
        "LinearRegressor",
        "Normalizer",
        "OneHotEncoder",
        "Scaler",
        "SVMClassifier",
        "SVMRegressor",
        "TreeEnsemble",
        "TreeEnsembleClassifier",
        "TreeEnsembleRegressor",
        "ZipMap",
    ]
)
_EXTERNAL = 1  # onnx.TensorProto.EXTERNAL


def refused_parts(model: Any) -> list[str]:
    """What in an ``onnx.ModelProto`` is outside the allow-list, one phrase each; [] if nothing."""
    refused: set[str] = set()
    if len(model.functions):
        refused.add("model-local functions")
    for node in model.graph.node:
        if node.domain in ONNX_DOMAINS:
            allowed = node.op_type in ONNX_OPS
        else:
            allowed = node.domain == ML_DOMAIN and node.op_type in ML_OPS
        if not allowed:
            refused.add(f"operator {node.domain or 'ai.onnx'}.{node.op_type}")
    if any(t.data_location == _EXTERNAL for t in model.graph.initializer):
        refused.add("tensors stored outside the file")
    return sorted(refused)
