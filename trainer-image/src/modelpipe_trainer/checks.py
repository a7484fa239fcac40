"""Data checks: a dataset against its declared schema, before any compute is spent.

Every check runs and every failure is reported, so a data scientist fixes the file
once instead of once per failed run. The checks are pure (frame in, failures out)
and vectorised, because they run on million-row frames.

    raw frame --coerce--> typed frame --checks--> [ValidationFailure, ...]

Coercion is part of checking: a value that cannot become the declared kind is a
``dtype`` failure, and the typed frame is what training then uses, so training
sees exactly the values that were checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from modelpipe_contract.result import ValidationFailure
from modelpipe_contract.runconfig import FeatureKind, FeatureSpec, SchemaSpec, Task

from modelpipe_trainer.errors import failure
from modelpipe_trainer.tables import categorical_column

_EXAMPLES = 3
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class CheckedFrame:
    """The typed frame (declared columns only), every failure found, and the nulls read.

    ``null_counts`` has every declared column that is present, so a report shows how many
    values training will impute (``maxNullFraction > 0``) as well as which columns failed.
    """

    frame: pd.DataFrame
    failures: list[ValidationFailure]
    null_counts: dict[str, int]


def check_dataset(raw: pd.DataFrame, *, schema: SchemaSpec, task: Task) -> CheckedFrame:
    """Coerce the declared columns and run every check on them."""
    failures = _check_row_count(len(raw), schema)
    columns: dict[str, pd.Series] = {}
    nulls: dict[str, int] = {}
    for spec in schema.features:
        if spec.name not in raw.columns:
            failures.append(_missing(spec.name, raw))
            continue
        nulls[spec.name] = int(raw[spec.name].isna().sum())
        typed, column_failures = _check_feature(raw[spec.name], spec, nulls=nulls[spec.name])
        columns[spec.name] = typed
        failures += column_failures
    if schema.target not in raw.columns:
        failures.append(_missing(schema.target, raw))
    else:
        nulls[schema.target] = int(raw[schema.target].isna().sum())
        target, target_failures = _check_target(
            raw[schema.target], schema.target, task, nulls=nulls[schema.target]
        )
        columns[schema.target] = target
        failures += target_failures
    frame = pd.DataFrame(columns, index=raw.index)
    return CheckedFrame(frame=frame, failures=failures, null_counts=nulls)


def check_stratified_split(target: pd.Series, *, test_size: float) -> list[ValidationFailure]:
    """A stratified split needs two rows per class and room for each class in the holdout."""
    counts = target.value_counts()
    failures = [
        failure(
            "class_size",
            f"class {label!r} has only {count} row; a stratified split needs at least 2 per "
            "class (add rows or give a separate evalDataset)",
            target.name if isinstance(target.name, str) else None,
        )
        for label, count in counts.items()
        if count < 2
    ]
    holdout = int(np.ceil(test_size * len(target)))
    if len(counts) >= 2 and holdout < len(counts):
        failures.append(
            failure(
                "holdout_size",
                f"a testSize of {test_size} leaves {holdout} holdout rows for {len(counts)} "
                "classes; raise testSize or add rows",
            )
        )
    return failures


def _check_row_count(rows: int, schema: SchemaSpec) -> list[ValidationFailure]:
    if rows >= schema.min_rows:
        return []
    return [
        failure(
            "min_rows",
            f"the dataset has {rows} rows; the schema requires at least {schema.min_rows} "
            "(minRows)",
        )
    ]


def _missing(name: str, raw: pd.DataFrame) -> ValidationFailure:
    found = ", ".join(_clip(str(c)) for c in raw.columns[:20])
    found += " ..." if len(raw.columns) > 20 else ""
    return failure("column_present", f"column {name!r} is missing (columns found: {found})", name)


def _check_feature(
    raw: pd.Series, spec: FeatureSpec, *, nulls: int
) -> tuple[pd.Series, list[ValidationFailure]]:
    if spec.kind is FeatureKind.NUMERIC:
        typed, failures = _coerce_numeric(raw, spec.name, "numeric")
        failures += _check_nulls(nulls, len(raw), spec.name, spec.max_null_fraction)
        failures += _check_range(typed, spec)
        return typed, failures
    typed = categorical_column(raw)
    failures = _check_nulls(nulls, len(raw), spec.name, spec.max_null_fraction)
    # Text columns are checked in their string dtype: isin there is much faster than on objects.
    failures += _check_allowed(raw if isinstance(raw.dtype, pd.StringDtype) else typed, spec)
    return typed, failures


def _coerce_numeric(
    raw: pd.Series, name: str, declared: str
) -> tuple[pd.Series, list[ValidationFailure]]:
    if pd.api.types.is_numeric_dtype(raw):
        typed = raw.astype("float64")
        return typed, _check_finite(typed, raw, name)
    typed = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = typed.isna() & raw.notna()
    failures = _check_finite(typed, raw, name)
    if not bad.any():
        return typed, failures
    message = (
        f"column {name!r} is declared {declared} but {int(bad.sum())} values are not numbers, "
        f"e.g. {_examples(raw[bad])} (if one of them marks a missing value, list it in "
        "schema.nullValues)"
    )
    return typed, [failure("dtype", message, name), *failures]


def _check_finite(typed: pd.Series, raw: pd.Series, name: str) -> list[ValidationFailure]:
    """``inf`` and ``1e400`` parse as numbers, but no estimator can use them."""
    infinite = np.isinf(typed.to_numpy())
    if not infinite.any():
        return []
    return [
        failure(
            "finite",
            f"column {name!r} has {int(infinite.sum())} infinite values, "
            f"e.g. {_examples(raw[infinite])}; numbers must be finite",
            name,
        )
    ]


def _check_nulls(nulls: int, rows: int, name: str, allowed: float) -> list[ValidationFailure]:
    """``nulls`` counts the raw column: a value of the wrong type is a dtype failure, not a null."""
    if rows and nulls == rows:
        return [failure("all_null", f"column {name!r} has no values: all {nulls} are null", name)]
    fraction = nulls / rows if rows else 0.0
    if fraction <= allowed:
        return []
    return [
        failure(
            "max_null_fraction",
            f"column {name!r} is {fraction:.1%} null ({nulls} rows); at most {allowed:.1%} is "
            "allowed (maxNullFraction)",
            name,
        )
    ]


def _check_range(typed: pd.Series, spec: FeatureSpec) -> list[ValidationFailure]:
    failures = []
    for check, bound, outside in (
        ("minimum", spec.minimum, typed < spec.minimum if spec.minimum is not None else None),
        ("maximum", spec.maximum, typed > spec.maximum if spec.maximum is not None else None),
    ):
        if outside is None or not outside.any():
            continue
        side = "below the minimum" if check == "minimum" else "above the maximum"
        failures.append(
            failure(
                check,
                f"column {spec.name!r} has {int(outside.sum())} values {side} {bound}, "
                f"e.g. {_examples(typed[outside])}",
                spec.name,
            )
        )
    return failures


def _check_allowed(typed: pd.Series, spec: FeatureSpec) -> list[ValidationFailure]:
    if spec.allowed_values is None:
        return []
    outside = typed.notna() & ~typed.isin(spec.allowed_values)
    if not outside.any():
        return []
    return [
        failure(
            "allowed_values",
            f"column {spec.name!r} has {int(outside.sum())} values outside allowedValues "
            f"{spec.allowed_values}, e.g. {_examples(typed[outside])}",
            spec.name,
        )
    ]


def _check_target(
    raw: pd.Series, name: str, task: Task, *, nulls: int
) -> tuple[pd.Series, list[ValidationFailure]]:
    failures: list[ValidationFailure] = []
    if task is Task.REGRESSION:
        typed, failures = _coerce_numeric(raw, name, "a regression target")
    else:
        typed = raw.astype(object) if isinstance(raw.dtype, pd.StringDtype) else raw
    if nulls:
        failures.append(
            failure(
                "target_null",
                f"target column {name!r} has {nulls} null values; every row needs a target",
                name,
            )
        )
    if task is Task.CLASSIFICATION:
        failures += _check_classes(typed, name)
    return typed, failures


def _check_classes(target: pd.Series, name: str) -> list[ValidationFailure]:
    classes = target.dropna().unique().tolist()
    if len(classes) >= 2:
        return []
    found = f"only one class ({classes[0]!r})" if len(classes) == 1 else "no classes"
    return [
        failure(
            "target_classes",
            f"target column {name!r} has {found}; classification needs at least two",
            name,
        )
    ]


def _examples(values: pd.Series) -> str:
    return ", ".join(_clip(repr(v)) for v in values.unique()[:_EXAMPLES].tolist())


def _clip(text: str) -> str:
    """A value as shown in a message: a 1 MB field must not push the report past 4 KiB."""
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
