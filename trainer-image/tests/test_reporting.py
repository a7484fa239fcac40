"""Delivering the result document: stdout always, the termination file when it belongs."""

from __future__ import annotations

import io
import json
from pathlib import Path

from modelpipe_contract.result import Outcome, TrainerResult, ValidationFailure

from modelpipe_trainer.reporting import DEFAULT_TERMINATION_PATH, emit_result


def test_writes_stdout_and_the_configured_path(tmp_path: Path) -> None:
    out = io.StringIO()
    result = TrainerResult(outcome=Outcome.SUCCEEDED, message="ok", model_version="v1")
    emit_result(result, termination_path=str(tmp_path / "term"), stdout=out)
    assert json.loads(out.getvalue()) == json.loads((tmp_path / "term").read_text())
    assert TrainerResult.from_message((tmp_path / "term").read_text()) == result


def test_default_path_is_not_created_outside_a_pod() -> None:
    if Path(DEFAULT_TERMINATION_PATH).exists():
        return  # inside a pod: nothing to prove here
    emit_result(
        TrainerResult(outcome=Outcome.SUCCEEDED),
        termination_path=DEFAULT_TERMINATION_PATH,
        stdout=io.StringIO(),
    )
    assert not Path(DEFAULT_TERMINATION_PATH).exists()


def test_unwritable_path_does_not_fail_the_run(tmp_path: Path) -> None:
    out = io.StringIO()
    emit_result(
        TrainerResult(outcome=Outcome.SUCCEEDED), termination_path=str(tmp_path), stdout=out
    )
    assert json.loads(out.getvalue())["outcome"] == "Succeeded"


def test_huge_failure_messages_are_clipped_not_dropped() -> None:
    """One 1 MB message used to push every failure out of the 4 KiB termination message."""
    failures = [ValidationFailure(check="dtype", column="c", message="x" * 1_000_000)] * 3
    result = TrainerResult(
        outcome=Outcome.VALIDATION_FAILED, message="y" * 1_000_000, failures=failures
    )
    message = result.to_message()
    doc = json.loads(message)
    assert len(message.encode()) <= 4096
    assert [f["check"] for f in doc["failures"]] == ["dtype"] * 3
    assert doc["failuresTruncated"] == 0


def test_null_counts_are_dropped_last() -> None:
    failures = [ValidationFailure(check="c", message="m" * 200)] * 30
    counts = {"dataset": {f"column_{i}": i + 1 for i in range(300)}}
    doc = json.loads(
        TrainerResult(
            outcome=Outcome.VALIDATION_FAILED, failures=failures, null_counts=counts
        ).to_message()
    )
    assert "nullCounts" not in doc
    assert doc["failuresTruncated"] == 30
    small = {"dataset": {"a": 1}}
    doc = json.loads(TrainerResult(outcome=Outcome.SUCCEEDED, null_counts=small).to_message())
    assert doc["nullCounts"] == small


def test_a_reader_ignores_fields_a_newer_trainer_added() -> None:
    text = '{"schemaVersion":"modelpipe.io/trainer-result/v1","outcome":"Succeeded","newField":1}'
    assert TrainerResult.from_message(text).outcome is Outcome.SUCCEEDED
