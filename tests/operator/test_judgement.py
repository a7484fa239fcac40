"""judge(): how a finished Job reads in status, crashes without a result document above all."""

from __future__ import annotations

from typing import Any

import pytest
from tests.operator.builders import job, spec

from modelpipe.api.v1alpha1 import Reason, RunRecord, Verdict
from modelpipe.observed import JobPhase
from modelpipe.planning.judgement import judge
from modelpipe_trainer.contract import Outcome, TrainerResult, ValidationFailure

BASE = RunRecord(
    model_version="0000beef", job_name="iris-0000beef", input_hash="h", verdict="Running"
)


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (
            {"exit_code": 137, "exit_reason": "Error"},
            "trainer crashed (exit code 137, reason Error, killed by SIGKILL, no result document)",
        ),
        (
            {"exit_code": 137, "exit_reason": "OOMKilled", "exit_signal": 9},
            "exit code 137, reason OOMKilled, killed by SIGKILL",
        ),
        ({"exit_code": 1, "exit_reason": "Error"}, "(exit code 1, reason Error, no result"),
        ({}, "(the train container never finished, no result document)"),
    ],
    ids=["sigkill", "oom", "exit-1", "never-ran"],
)
def test_a_crash_says_how_the_trainer_ended(pod: dict[str, Any], expected: str) -> None:
    crashed = job("0000beef", JobPhase.FAILED, failure_message="BackoffLimitExceeded: ...", **pod)
    record = judge(job=crashed, spec=spec(), base=BASE)
    assert record.verdict == Verdict.TRAINING_FAILED and record.reason == Reason.TRAINING_FAILED
    assert expected in record.message
    assert record.message.endswith("BackoffLimitExceeded: ...")
    assert record.metrics == {}


def test_a_failed_code_test_quotes_its_output() -> None:
    failed = job(
        "0000beef",
        JobPhase.FAILED,
        code_test_failed=True,
        code_test_message="exit code 1: FAILED test_features.py::test_scaling",
    )
    the_spec = spec(code={"revision": "r1", "test": {"command": ["pytest", "-q"]}})
    record = judge(job=failed, spec=the_spec, base=BASE)
    assert record.verdict == Verdict.CODE_VALIDATION_FAILED
    assert record.message == (
        "code test `pytest -q` failed: exit code 1: FAILED test_features.py::test_scaling"
    )


def test_bad_estimator_params_are_a_validation_verdict() -> None:
    """The trainer's InvalidConfig (exit 2, no retry) is the author's input error, not a crash."""
    params = ValidationFailure(
        check="estimator_params",
        column="estimator.params",
        message="unknown params 'kernal' (did you mean 'kernel'?)",
    )
    result = TrainerResult(
        outcome=Outcome.INVALID_CONFIG, message="bad params for sklearn.svm.SVC", failures=[params]
    )
    refused = job("0000beef", JobPhase.FAILED, exit_code=2, result=result)
    record = judge(job=refused, spec=spec(), base=BASE)
    assert (record.verdict, record.reason) == (Verdict.VALIDATION_FAILED, Reason.VALIDATION_FAILED)
    assert "bad params for sklearn.svm.SVC" in record.message
    assert [(f.check, f.column) for f in record.failures] == [
        ("estimator_params", "estimator.params")
    ]
