"""Delivering the result document: stdout always, the termination file when it belongs."""

from __future__ import annotations

import io
import json
from pathlib import Path

from modelpipe_trainer.contract import Outcome, TrainerResult
from modelpipe_trainer.reporting import DEFAULT_TERMINATION_PATH, emit_result


def test_writes_stdout_and_the_configured_path(tmp_path: Path) -> None:
    out = io.StringIO()
    result = TrainerResult(outcome=Outcome.SUCCEEDED, message="ok", model_version="v1")
    emit_result(result, termination_path=str(tmp_path / "term"), stdout=out)
    assert json.loads(out.getvalue()) == json.loads((tmp_path / "term").read_text())
    assert TrainerResult.from_message((tmp_path / "term").read_text()) == result


def test_default_path_is_not_created_outside_a_pod() -> None:
    if Path(DEFAULT_TERMINATION_PATH).exists():
        return  # inside a pod (or a node agent's private /dev): nothing to prove here
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
