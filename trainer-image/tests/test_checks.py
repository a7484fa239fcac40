"""The data checks, one behaviour per case, on frames built in the test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from modelpipe_contract.result import ValidationFailure
from modelpipe_contract.runconfig import SchemaSpec, Task

from modelpipe_trainer.checks import check_dataset, check_stratified_split


def _schema(**overrides: object) -> SchemaSpec:
    doc: dict[str, object] = {
        "target": "y",
        "features": [
            {"name": "num", "min": 0, "max": 100},
            {"name": "cat", "kind": "categorical", "allowedValues": ["a", "b"]},
        ],
        "minRows": 3,
    }
    doc.update(overrides)
    return SchemaSpec.model_validate(doc)


def _frame(**columns: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "num": [1, 2, 3, 4],
        "cat": ["a", "b", "a", "b"],
        "y": ["x", "z", "x", "z"],
    }
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def _checks(
    frame: pd.DataFrame, task: Task = Task.CLASSIFICATION, **schema: object
) -> list[ValidationFailure]:
    return check_dataset(frame, schema=_schema(**schema), task=task).failures


def test_clean_frame_passes_and_is_typed() -> None:
    checked = check_dataset(_frame(), schema=_schema(), task=Task.CLASSIFICATION)
    assert checked.failures == []
    assert checked.frame["num"].dtype == np.float64
    assert checked.frame["cat"].dtype == object


@pytest.mark.parametrize(
    ("columns", "check", "column", "text"),
    [
        ({"num": None}, "column_present", "num", "column 'num' is missing"),
        ({"num": [1, "two", 3, "four"]}, "dtype", "num", "2 values are not numbers, e.g. 'two'"),
        ({"num": [None] * 4}, "all_null", "num", "all 4 are null"),
        ({"cat": [None] * 4}, "all_null", "cat", "no values"),
        ({"num": [1, None, 3, 4]}, "max_null_fraction", "num", "25.0% null"),
        ({"num": [-5, 2, 3, 4]}, "minimum", "num", "below the minimum 0.0, e.g. -5.0"),
        ({"num": [1, 2, 300, 4]}, "maximum", "num", "above the maximum 100.0"),
        ({"cat": ["a", "b", "c", "a"]}, "allowed_values", "cat", "outside allowedValues"),
        ({"y": None}, "column_present", "y", "column 'y' is missing"),
        ({"y": ["x", None, "x", "z"]}, "target_null", "y", "1 null values"),
        ({"y": ["x", "x", "x", "x"]}, "target_classes", "y", "only one class ('x')"),
        ({"num": [1, float("inf"), 3, 4]}, "finite", "num", "1 infinite values, e.g. inf"),
        ({"num": ["1", "-1e400", "3", "4"]}, "finite", "num", "e.g. '-1e400'"),
        ({"num": [1, "n/a", 3, 4]}, "dtype", "num", "list it in schema.nullValues"),
        ({"num": ["x" * 5000, 2, 3, 4]}, "dtype", "num", "e.g. 'xxxxxxxxxxxx"),
    ],
)
def test_each_bad_column_is_named(
    columns: dict[str, list[object]], check: str, column: str, text: str
) -> None:
    failures = _checks(_frame(**columns))
    matching = [f for f in failures if f.check == check]
    assert matching, failures
    assert matching[0].column == column
    assert text in matching[0].message


def test_too_few_rows() -> None:
    failures = _checks(_frame(), minRows=10)
    assert [f.check for f in failures] == ["min_rows"]
    assert "4 rows" in failures[0].message


def test_every_failure_is_reported_not_only_the_first() -> None:
    frame = _frame(num=[1, "x", None, -1], cat=["a", "q", "a", "b"], y=["x"] * 4)
    checks = {f.check for f in _checks(frame)}
    assert {"dtype", "max_null_fraction", "minimum", "allowed_values", "target_classes"} <= checks


def test_null_fraction_within_limit_passes() -> None:
    features = [{"name": "num", "maxNullFraction": 0.5}, {"name": "cat", "kind": "categorical"}]
    assert _checks(_frame(num=[1, None, 3, 4]), features=features) == []


def test_regression_target_must_be_numeric() -> None:
    failures = _checks(_frame(y=["1.5", "2", "lots", "3"]), task=Task.REGRESSION)
    assert [(f.check, f.column) for f in failures] == [("dtype", "y")]


def test_numeric_text_is_coerced() -> None:
    checked = check_dataset(
        _frame(num=["1", "2.5", "3", "4"]), schema=_schema(), task=Task.CLASSIFICATION
    )
    assert checked.failures == []
    assert checked.frame["num"].tolist() == [1.0, 2.5, 3.0, 4.0]


def test_stratified_split_needs_two_rows_per_class() -> None:
    target = pd.Series(["a"] * 5 + ["b"] * 5 + ["c"], name="y")
    failures = check_stratified_split(target, test_size=0.3)
    assert [f.check for f in failures] == ["class_size"]
    assert "'c'" in failures[0].message


def test_stratified_split_needs_a_holdout_row_per_class() -> None:
    target = pd.Series(["a", "b", "c"] * 3, name="y")
    assert [f.check for f in check_stratified_split(target, test_size=0.1)] == ["holdout_size"]


def test_a_huge_value_is_shown_clipped() -> None:
    (failure,) = _checks(_frame(num=["x" * 5000, 2, 3, 4]))
    assert len(failure.message) < 300


def test_null_counts_cover_every_declared_column_present() -> None:
    features = [{"name": "num", "maxNullFraction": 0.5}, {"name": "cat", "kind": "categorical"}]
    frame = _frame(num=[1, None, None, 4], cat=["a", None, "a", "b"]).assign(extra=None)
    checked = check_dataset(frame, schema=_schema(features=features), task=Task.CLASSIFICATION)
    assert checked.null_counts == {"num": 2, "cat": 1, "y": 0}
