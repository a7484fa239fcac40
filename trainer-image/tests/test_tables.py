"""Parsing bytes into frames: unreadable files are validation failures with a reason."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from modelpipe_trainer.config import DatasetRef
from modelpipe_trainer.contract import Outcome
from modelpipe_trainer.errors import TrainerError
from modelpipe_trainer.tables import canonical_category, dataset_format, parse_table


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _unreadable(data: bytes, fmt: str) -> str:
    with pytest.raises(TrainerError) as caught:
        parse_table(data, fmt=fmt, categorical=[], role="dataset")  # type: ignore[arg-type]
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
    frame = parse_table(b"zip,n\n01234,1\n", fmt="csv", categorical=["zip"], role="dataset")
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
def test_format_from_extension_or_declaration(uri: str, declared, expected: str) -> None:
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
