"""Gathering the data for a run: fetch, parse, check, for the dataset and the eval dataset.

This is the whole of ``validate`` on the data side and the first half of
``train``: nothing is fitted until every check on every dataset has passed.
Failures from both datasets are collected into one report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from modelpipe_contract.result import Outcome, ValidationFailure
from modelpipe_contract.runconfig import DatasetRef, RunConfig, Task

from modelpipe_trainer.checks import check_dataset, check_stratified_split
from modelpipe_trainer.errors import TrainerError
from modelpipe_trainer.sources import dataset_format, fetch_dataset
from modelpipe_trainer.tables import Format, parse_table


@dataclass(frozen=True)
class Dataset:
    """One dataset as checked: the typed frame and the facts lineage needs."""

    ref: DatasetRef
    format: Format
    sha256: str
    size_bytes: int
    frame: pd.DataFrame
    null_counts: dict[str, int]


@dataclass(frozen=True)
class RunData:
    train: Dataset
    evaluation: Dataset | None

    def null_counts(self) -> dict[str, dict[str, int]]:
        return _reported_nulls({"dataset": self.train, "evalDataset": self.evaluation})


def gather_data(config: RunConfig) -> RunData:
    """Fetch and check every dataset of the run; raise ``TrainerError`` listing all failures."""
    refs = {"dataset": config.dataset}
    if config.eval_dataset is not None:
        refs["evalDataset"] = config.eval_dataset
    formats = {role: dataset_format(ref) for role, ref in refs.items()}
    loaded: dict[str, Dataset] = {}
    failures: list[ValidationFailure] = []
    for role, ref in refs.items():
        dataset, found = _load_one(ref, fmt=formats[role], config=config, role=role)
        failures += found
        if dataset is not None:
            loaded[role] = dataset
    # The split check reads the checked target, so it runs only once every check has passed:
    # a failed check may mean there is no target column at all.
    if not failures and config.eval_dataset is None and config.task is Task.CLASSIFICATION:
        target = loaded["dataset"].frame[config.data_schema.target]
        failures += check_stratified_split(target, test_size=config.test_size)
    if failures:
        raise TrainerError(
            Outcome.VALIDATION_FAILED,
            _summary(failures),
            failures,
            null_counts=_reported_nulls(loaded),
        )
    return RunData(train=loaded["dataset"], evaluation=loaded.get("evalDataset"))


def _load_one(
    ref: DatasetRef, *, fmt: Format, config: RunConfig, role: str
) -> tuple[Dataset | None, list[ValidationFailure]]:
    try:
        fetched = fetch_dataset(ref, max_bytes=config.max_download_bytes, role=role)
        raw = parse_table(fetched.data, fmt=fmt, schema=config.data_schema, role=role)
    except TrainerError as exc:
        if exc.outcome is not Outcome.VALIDATION_FAILED:
            raise
        return None, _in_role(exc.failures, role)
    checked = check_dataset(raw, schema=config.data_schema, task=config.task)
    dataset = Dataset(
        ref=ref,
        format=fmt,
        sha256=fetched.sha256,
        size_bytes=len(fetched.data),
        frame=checked.frame,
        null_counts=checked.null_counts,
    )
    return dataset, _in_role(checked.failures, role)


def _in_role(failures: list[ValidationFailure], role: str) -> list[ValidationFailure]:
    if role == "dataset":
        return failures
    return [f.model_copy(update={"message": f"{role}: {f.message}"}) for f in failures]


def _reported_nulls(datasets: Mapping[str, Dataset | None]) -> dict[str, dict[str, int]]:
    """Columns with nulls, per role; the zeros are left out to keep the result under 4 KiB."""
    return {
        role: {column: count for column, count in dataset.null_counts.items() if count}
        for role, dataset in datasets.items()
        if dataset is not None
    }


def _summary(failures: list[ValidationFailure]) -> str:
    first = failures[0].message
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return f"data validation failed: {first}{more}"
