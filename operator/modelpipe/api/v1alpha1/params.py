"""Bounds on free-form estimator parameters: how deep and how large.

``spec.training.estimator.params`` is free-form JSON (scikit-learn constructors take
numbers, strings, lists such as ``hidden_layer_sizes: [100, 50]`` and small maps such as
``class_weight: {"0": 1, "1": 3}``). Unbounded, it let a spec nest ~500 levels (kopf's
deepcopy then raised RecursionError and the pipeline got no status at all) or grow to a
megabyte. A CRD's own CEL cannot look inside untyped JSON, so the apiserver checks these
bounds with a ValidatingAdmissionPolicy (:mod:`modelpipe.api.policy`), and the operator's
own parsing checks the same ones, so a pipeline created before the policy gets a
condition rather than a crash.
"""

from __future__ import annotations

from typing import Any

MAX_PARAMS = 64  # parameters
MAX_ITEMS = 64  # items of a list or map inside one
MAX_DEPTH = 3  # a parameter may hold a list or map, of lists or maps, of lists or maps
MAX_KEY = 253
MAX_TEXT = 1024
# The parameters' JSON size, as CEL can count it: strings by length, other scalars as 8.
MAX_PARAMS_BYTES = 32 * 1024
_SCALAR = 8


def params_problem(params: dict[str, Any]) -> str | None:
    """What makes ``params`` too deep or too large, or None."""
    if len(params) > MAX_PARAMS:
        return f"estimator.params has {len(params)} entries; at most {MAX_PARAMS}"
    for key, value in params.items():
        problem = _value_problem(value, depth=MAX_DEPTH, where=f"estimator.params.{key}")
        if problem:
            return problem
    size = _weight(params, depth=MAX_DEPTH + 1)
    if size > MAX_PARAMS_BYTES:
        return f"estimator.params is about {size} bytes; at most {MAX_PARAMS_BYTES}"
    return None


def _value_problem(value: Any, *, depth: int, where: str) -> str | None:
    if isinstance(value, str):
        return f"{where} is longer than {MAX_TEXT} characters" if len(value) > MAX_TEXT else None
    if not isinstance(value, dict | list):
        return None
    if depth == 0:
        return f"{where} nests lists or maps more than {MAX_DEPTH} levels deep"
    if len(value) > MAX_ITEMS:
        return f"{where} has more than {MAX_ITEMS} items"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and len(key) > MAX_KEY:
            return f"{where} has a key longer than {MAX_KEY} characters"
        problem = _value_problem(item, depth=depth - 1, where=f"{where}.{key}")
        if problem:
            return problem
    return None


def _weight(value: Any, *, depth: int) -> int:
    """The size :func:`_cel_weight` computes, in Python."""
    if isinstance(value, str):
        return len(value) + 2
    if depth == 0 or not isinstance(value, dict | list):
        return _SCALAR
    if isinstance(value, list):
        return 2 + len(value) + sum(_weight(x, depth=depth - 1) for x in value)
    return 2 + sum(len(k) + 4 + _weight(x, depth=depth - 1) for k, x in value.items())


def _cel_shape(v: str, depth: int) -> str:
    """CEL: the dyn value ``v`` nests at most ``depth`` more levels, each bounded."""
    text = f"(type({v}) != string || {v}.size() <= {MAX_TEXT})"
    if depth == 0:
        return f"(type({v}) != list && type({v}) != map && {text})"
    x, k = f"x{depth}", f"k{depth}"
    return (
        f"(type({v}) == list ? ({v}.size() <= {MAX_ITEMS} && {v}.all({x}, "
        f"{_cel_shape(x, depth - 1)})) "
        f": type({v}) == map ? ({v}.size() <= {MAX_ITEMS} && {v}.all({k}, "
        f"string({k}).size() <= {MAX_KEY} && {_cel_shape(f'{v}[{k}]', depth - 1)})) : {text})"
    )


def _cel_weight(v: str, depth: int) -> str:
    """CEL: the JSON size of ``v``, counted as :func:`_weight` does."""
    scalar = f"(type({v}) == string ? {v}.size() + 2 : {_SCALAR})"
    if depth == 0:
        return scalar
    x, k = f"x{depth}", f"k{depth}"
    return (
        f"(type({v}) == list ? 2 + {v}.size() + {v}.map({x}, {_cel_weight(x, depth - 1)}).sum() "
        f": type({v}) == map ? 2 + {v}.map({k}, string({k}).size() + 4 + "
        f"{_cel_weight(f'{v}[{k}]', depth - 1)}).sum() : {scalar})"
    )


def params_policy_validations(params: str) -> list[dict[str, str]]:
    """ValidatingAdmissionPolicy validations of the params at CEL path ``params``."""
    present = f"!has({params})"
    return [
        {
            "expression": f"{present} || {params}.all(k, k.size() <= {MAX_KEY} && "
            f"{_cel_shape(f'{params}[k]', MAX_DEPTH)})",
            "message": f"spec.training.estimator.params: values nest lists and maps at most "
            f"{MAX_DEPTH} levels deep, with at most {MAX_ITEMS} items each, keys of at most "
            f"{MAX_KEY} and strings of at most {MAX_TEXT} characters",
        },
        {
            "expression": f"{present} || {_cel_weight(params, MAX_DEPTH + 1)} "
            f"<= {MAX_PARAMS_BYTES}",
            "message": f"spec.training.estimator.params is larger than {MAX_PARAMS_BYTES} bytes",
        },
    ]
