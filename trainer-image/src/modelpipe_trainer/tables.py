"""Turning a dataset's bytes into a DataFrame, with errors a data scientist can act on.

Categorical columns are read as text from CSV so that ``01`` stays ``01``; the
same canonical text form is applied to requests at serving time (see
:func:`canonical_category`), so training and serving agree on what a category is.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelpipe_trainer.config import DatasetRef
from modelpipe_trainer.contract import Outcome
from modelpipe_trainer.errors import TrainerError, failure

Format = Literal["csv", "parquet"]
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def dataset_format(ref: DatasetRef) -> Format:
    """The declared format, or the one the URI's extension names."""
    if ref.format is not None:
        return ref.format
    suffix = PurePosixPath(urlsplit(ref.uri).path).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise TrainerError(
        Outcome.INVALID_CONFIG,
        "cannot tell the dataset's format",
        [failure("config", f"{ref.uri}: the extension is not .csv or .parquet; set format")],
    )


def parse_table(data: bytes, *, fmt: Format, categorical: list[str], role: str) -> pd.DataFrame:
    """Parse bytes as CSV or Parquet; raise ``TrainerError(VALIDATION_FAILED)`` if unreadable."""
    if not data:
        raise _unreadable(role, "the file is empty (0 bytes)")
    if fmt == "parquet":
        return _parse_parquet(data, role=role)
    return _parse_csv(data, categorical=categorical, role=role)


def _parse_csv(data: bytes, *, categorical: list[str], role: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(data), dtype=dict.fromkeys(categorical, str))
    except pd.errors.EmptyDataError:
        raise _unreadable(role, "the CSV file has no header row and no data") from None
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise _unreadable(role, f"not a readable CSV file: {_first_line(exc)}") from None


def _parse_parquet(data: bytes, *, role: str) -> pd.DataFrame:
    try:
        table = pq.read_table(pa.BufferReader(data))
        return table.to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable(
            role, f"not a readable Parquet file (truncated or corrupt?): {_first_line(exc)}"
        ) from None


def canonical_category(value: object) -> object:
    """The text form of one categorical value; missing values stay ``np.nan``.

    Integral floats lose their ``.0`` because a Parquet or CSV integer column with
    nulls in it comes back as float, and ``3`` must mean the same category as ``3.0``.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return np.nan
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def categorical_column(values: pd.Series) -> pd.Series:
    """A column as object dtype of canonical strings, with ``np.nan`` for missing."""
    if isinstance(values.dtype, pd.StringDtype):
        # Fast path for text columns (1M rows): only the missing marker changes.
        return pd.Series(
            values.to_numpy(dtype=object, na_value=np.nan),
            index=values.index,
            name=values.name,
            dtype=object,
        )
    return values.map(canonical_category).astype(object)


def _unreadable(role: str, message: str) -> TrainerError:
    return TrainerError(
        Outcome.VALIDATION_FAILED,
        f"cannot read the {role} dataset",
        [failure("dataset_readable", message)],
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
