"""Turning a dataset's bytes into a DataFrame, with errors a data scientist can act on.

Categorical columns are read as text from CSV so that ``01`` stays ``01``; the
same canonical text form is applied to requests at serving time (see
:func:`canonical_category`), so training and serving agree on what a category is.
"""

from __future__ import annotations

import csv
import io
import warnings
from typing import Literal

import numpy as np
import pandas as pd
from modelpipe_contract.result import Outcome
from modelpipe_contract.runconfig import FeatureKind, SchemaSpec

from modelpipe_trainer.categories import canonical_category
from modelpipe_trainer.errors import TrainerError, failure

Format = Literal["csv", "parquet"]


def parse_table(data: bytes, *, fmt: Format, schema: SchemaSpec, role: str) -> pd.DataFrame:
    """Parse bytes as CSV or Parquet; raise ``TrainerError(VALIDATION_FAILED)`` if unreadable.

    Unreadable covers what would make the schema's columns ambiguous: a declared column named
    twice in the header, CSV rows wider than the header, Parquet lists or structs.
    """
    if not data:
        raise _unreadable(role, "the file is empty (0 bytes)")
    if fmt == "parquet":
        return _parse_parquet(data, declared=declared_columns(schema), role=role)
    return _parse_csv(data, schema=schema, role=role)


def declared_columns(schema: SchemaSpec) -> list[str]:
    return [*(f.name for f in schema.features), schema.target]


def _parse_csv(data: bytes, *, schema: SchemaSpec, role: str) -> pd.DataFrame:
    categorical = [f.name for f in schema.features if f.kind is FeatureKind.CATEGORICAL]
    try:
        with warnings.catch_warnings():
            # index_col=False: by default pandas reads a first row wider than the header as
            # "the first column is the index" and shifts every value one column, silently;
            # this way that row warns (turned into an error) and any later one fails to parse.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.BytesIO(data),
                dtype=dict.fromkeys(categorical, str),
                index_col=False,
                # Only the schema's null tokens are nulls: pandas' defaults would make "n/a",
                # "NA", "null", "None"... nulls that a maxNullFraction then quietly imputes.
                keep_default_na=False,
                na_values=schema.null_values,
            )
        header = _csv_header(data)
    except pd.errors.EmptyDataError:
        raise _unreadable(role, "the CSV file has no header row and no data") from None
    except pd.errors.ParserWarning:
        raise _unreadable(
            role, "the first row has more fields than the header (a column without a name?)"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise _unreadable(role, f"not a readable CSV file: {_first_line(exc)}") from None
    _refuse_duplicates(header, declared=declared_columns(schema), role=role)
    return frame


def _csv_header(data: bytes) -> list[str]:
    """The header's names as written: pandas renames a repeated ``x`` to ``x.1``."""
    first = pd.read_csv(io.BytesIO(data), header=None, nrows=1, dtype=str, na_filter=False)
    return [str(name) for name in first.iloc[0].tolist()] if len(first) else []


def _parse_parquet(data: bytes, *, declared: list[str], role: str) -> pd.DataFrame:
    # Imported here: pyarrow.parquet is slow to import and only Parquet needs it.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        fields = parquet.schema_arrow
        _refuse_duplicates(fields.names, declared=declared, role=role)
        nested = [
            f"{field.name!r} ({field.type})"
            for field in fields
            if field.name in declared and pa.types.is_nested(field.type)
        ]
        if nested:
            raise _unreadable(
                role,
                f"columns {', '.join(nested)} hold lists or structs; the schema's columns "
                "need plain numbers, text or booleans",
            )
        return parquet.read().to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable(
            role, f"not a readable Parquet file (truncated or corrupt?): {_first_line(exc)}"
        ) from None


def _refuse_duplicates(names: list[str], *, declared: list[str], role: str) -> None:
    repeated = sorted({name for name in declared if names.count(name) > 1})
    if repeated:
        raise TrainerError(
            Outcome.VALIDATION_FAILED,
            f"cannot read the {role} dataset",
            [
                failure(
                    "column_unique",
                    f"column {name!r} appears {names.count(name)} times in the header; "
                    "which one is meant is ambiguous (rename or drop the others)",
                    name,
                )
                for name in repeated
            ],
        )


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
    return values.map(_canonical_cell).astype(object)


def _unreadable(role: str, message: str) -> TrainerError:
    return TrainerError(
        Outcome.VALIDATION_FAILED,
        f"cannot read the {role} dataset",
        [failure("dataset_readable", message)],
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _canonical_cell(value: object) -> object:
    return np.nan if value is pd.NA else canonical_category(value)
