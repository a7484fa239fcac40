"""The canonical text form of a categorical value, shared by training and serving.

It lives apart from :mod:`.tables` so that the server can apply it to requests
without importing pandas (the ONNX path must start without it).
"""

from __future__ import annotations

import numpy as np


def canonical_category(value: object) -> object:
    """The text form of one categorical value; missing values stay ``np.nan``.

    Integral floats lose their ``.0`` because a Parquet or CSV integer column with
    nulls in it comes back as float, and ``3`` must mean the same category as ``3.0``.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
