"""Parsing bytes into frames: unreadable files are validation failures with a reason."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from modelpipe_contract.result import Outcome, ValidationFailure
from modelpipe_contract.runconfig import DatasetRef, SchemaSpec

from modelpipe_trainer.categories import canonical_category
from modelpipe_trainer.errors import TrainerError
from modelpipe_trainer.sources import dataset_format
from modelpipe_trainer.tables import parse_table


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _schema(**overrides: object) -> SchemaSpec:
    return SchemaSpec.model_validate({"target": "y", "features": [{"name": "a"}], **overrides})


def _unreadable(data: bytes, fmt: str) -> str:
    with pytest.raises(TrainerError) as caught:
        parse_table(data, fmt=fmt, schema=_schema(), role="dataset")  # type: ignore[arg-type]
    assert caught.value.outcome is Outcome.VALIDATION_FAILED
    assert caught.value.failures[0].check == "dataset_readable"
    return caught.value.failures[0].message


def test_empty_file() -> None:
    assert "empty (0 bytes)" in _unreadable(b"", "csv")
    assert "empty (0 bytes)" in _unreadable(b"", "parquet")


def test_blank_csv_has_no_header() -> None:
    assert "no header row" in _unreadable(b"\n\n", "csv")


def test_truncated_parquet() -> None:
    data = _parquet_bytes(pd.DataFrame({"a": range(100)}))
    assert "truncated or corrupt" in _unreadable(data[: len(data) // 2], "parquet")


def test_corrupt_parquet() -> None:
    data = bytearray(_parquet_bytes(pd.DataFrame({"a": range(100)})))
    data[4:40] = b"\x00" * 36  # keep the magic bytes, destroy the first column chunk
    assert "Parquet" in _unreadable(bytes(data), "parquet")


def test_csv_reads_categorical_columns_as_text() -> None:
    schema = _schema(features=[{"name": "zip", "kind": "categorical"}], target="n")
    frame = parse_table(b"zip,n\n01234,1\n", fmt="csv", schema=schema, role="dataset")
    assert frame["zip"].tolist() == ["01234"]


@pytest.mark.parametrize(
    ("uri", "declared", "expected"),
    [
        ("/d/iris.csv", None, "csv"),
        ("https://h/x/iris.parquet?sig=1", None, "parquet"),
        ("file:///d/data.pq", None, "parquet"),
        ("/d/data.txt", "csv", "csv"),
    ],
)
def test_format_from_extension_or_declaration(
    uri: str, declared: str | None, expected: str
) -> None:
    assert dataset_format(DatasetRef(uri=uri, version="1", format=declared)) == expected


def test_unknown_extension_asks_for_format() -> None:
    with pytest.raises(TrainerError) as caught:
        dataset_format(DatasetRef(uri="/d/data.txt", version="1"))
    assert caught.value.outcome is Outcome.INVALID_CONFIG


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a", "a"), (3, "3"), (3.0, "3"), (2.5, "2.5"), (True, "true"), (None, None), (np.nan, None)],
)
def test_canonical_category(value: object, expected: str | None) -> None:
    out = canonical_category(value)
    assert (out is np.nan) if expected is None else out == expected


def _failure(data: bytes, fmt: str = "csv", **schema: object) -> ValidationFailure:
    with pytest.raises(TrainerError) as caught:
        parse_table(data, fmt=fmt, schema=_schema(**schema), role="dataset")  # type: ignore[arg-type]
    assert caught.value.outcome is Outcome.VALIDATION_FAILED
    (failure,) = caught.value.failures
    return failure


def test_rows_wider_than_the_header_are_refused() -> None:
    """pandas would take the first column as an index and shift every value one column left."""
    failure = _failure(b"a,y\n1,2,3\n4,5,6\n")
    assert "the first row has more fields than the header" in failure.message
    failure = _failure(b"a,y\n1,2\n4,5,6\n")
    assert "Expected 2 fields in line 3, saw 3" in failure.message


def test_a_trailing_delimiter_is_read_as_written() -> None:
    frame = parse_table(b"a,y\n1,2,\n4,5,\n", fmt="csv", schema=_schema(), role="dataset")
    assert frame.to_dict("list") == {"a": [1, 4], "y": [2, 5]}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_declared_column_named_twice_is_refused(fmt: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "csv":
        data = b"a,y,a\n1,2,3\n"
    else:
        buffer = io.BytesIO()
        table = pa.Table.from_arrays([pa.array([1]), pa.array([2]), pa.array([3])], ["a", "y", "a"])
        pq.write_table(table, buffer)
        data = buffer.getvalue()
    failure = _failure(data, fmt)
    assert (failure.check, failure.column) == ("column_unique", "a")
    assert "appears 2 times" in failure.message


def test_an_undeclared_repeated_column_is_ignored() -> None:
    frame = parse_table(b"a,y,z,z\n1,2,3,4\n", fmt="csv", schema=_schema(), role="dataset")
    assert frame["a"].tolist() == [1]


def test_parquet_lists_are_refused_in_declared_columns() -> None:
    frame = pd.DataFrame({"a": [[1, 2], [3]], "y": [1, 2]})
    failure = _failure(_parquet_bytes(frame), "parquet")
    assert "'a' (list<" in failure.message


@pytest.mark.parametrize(
    ("null_values", "expected"),
    [
        (None, ["n/a", "NA", "null", "None", "nan", None]),  # default: only the empty field
        (["n/a", "NA"], [None, None, "null", "None", "nan", ""]),  # the list is complete
        ([], ["n/a", "NA", "null", "None", "nan", ""]),
    ],
    ids=["default", "declared", "none"],
)
def test_only_the_schema_null_values_are_null(
    null_values: list[str] | None, expected: list[str | None]
) -> None:
    """pandas' defaults would read "n/a", "NA", "null", "None", "nan" as nulls, silently."""
    data = b"a,y\nn/a,1\nNA,1\nnull,1\nNone,1\nnan,1\n,1\n"
    schema: dict[str, object] = {"features": [{"name": "a", "kind": "categorical"}]}
    if null_values is not None:
        schema["nullValues"] = null_values
    frame = parse_table(data, fmt="csv", schema=_schema(**schema), role="dataset")
    assert [None if pd.isna(v) else v for v in frame["a"]] == expected
