"""What the shadow is sent and whether its answer agrees with production's (pure, no I/O).

The mirror (:mod:`.mirror`) sends the shadow one V2 JSON request per answered request,
built from the columns production already validated, asking for ``predict`` only, so
the shadow's answer has one shape whatever the client sent (``/predict`` records, V2
JSON or binary tensors). Rows agree when the labels are equal (classification) or when
the values are within :data:`REL_TOLERANCE` of each other (regression).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelpipe_trainer.serving.payloads import Columns

# Regression rows agree within 5% of production's value (or 1e-6 of it near zero):
# a retrained model moves its numbers a little; one that learned something else moves them
# a lot. Stated in docs/operator.md ("Shadow").
REL_TOLERANCE = 0.05
ABS_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Compared:
    """One mirrored request, judged: rows compared, rows that agreed, the shadow's version."""

    rows: int
    agreed: int
    version: str


def shadow_request(columns: Columns) -> bytes:
    """The V2 JSON request that asks the shadow for ``predict`` on the same rows."""
    inputs = []
    for name, values in columns.items():
        data = [None if isinstance(v, float) and math.isnan(v) else v for v in values.tolist()]
        datatype = "FP64" if values.dtype.kind == "f" else "BYTES"
        inputs.append({"name": name, "shape": [len(values)], "datatype": datatype, "data": data})
    body = {"inputs": inputs, "outputs": [{"name": "predict"}]}
    return json.dumps(body, separators=(",", ":")).encode()


def compare(production: np.ndarray, answer: Any) -> Compared | str:
    """Production's predictions against the shadow's V2 answer, or why it cannot be read."""
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    predict = next(
        (o for o in outputs or () if isinstance(o, dict) and o.get("name") == "predict"), None
    )
    if predict is None or not isinstance(predict.get("data"), list):
        return "the shadow's answer has no predict output"
    version = answer.get("model_version")
    version = version if isinstance(version, str) else ""
    shadow: list[Any] = predict["data"]
    rows = len(production)
    if len(shadow) != rows:
        return Compared(rows=rows, agreed=0, version=version)
    agreed = sum(_agrees(p, s) for p, s in zip(production.tolist(), shadow, strict=True))
    return Compared(rows=rows, agreed=agreed, version=version)


def _agrees(production: Any, shadow: Any) -> bool:
    if isinstance(production, float) and isinstance(shadow, int | float):
        return math.isclose(production, shadow, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)
    return str(production) == str(shadow)
