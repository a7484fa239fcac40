"""judge(): how a finished Job reads in status, crashes without a result document above all."""

from __future__ import annotations

from typing import Any

import pytest
from modelpipe_contract.result import Outcome, TrainerResult, ValidationFailure
from tests.operator.builders import job, spec
from tests.operator.builders import result as succeeded

from modelpipe.api.v1alpha1 import Reason, RunRecord, Verdict
from modelpipe.observed import JobPhase
from modelpipe.planning.judgement import judge

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


def test_a_gain_that_is_not_significant_is_gate_failed_with_its_p_value_in_status() -> None:
    """The result document carries the trainer's test; the run's gate table shows it."""
    message = (
        '{"schemaVersion":"modelpipe.io/trainer-result/v1","outcome":"Succeeded",'
        '"metrics":{"accuracy":0.93},"championMetrics":{"accuracy":0.9},'
        '"significance":{"test":"pairedBootstrap","metric":"accuracy","improvement":0.03,'
        '"pValue":0.21,"interval":[-0.02,0.08],"alpha":0.05,"resamples":1000}}'
    )
    result = TrainerResult.from_message(message)
    done = job("0000beef", JobPhase.SUCCEEDED, result=result, champion_version="0000aaaa")
    champion = {"metric": "accuracy", "significance": {"test": "pairedBootstrap"}}
    record = judge(job=done, spec=spec(evaluation={"champion": champion}), base=BASE)
    assert (record.verdict, record.reason) == (Verdict.GATE_FAILED, Reason.GATE_FAILED)
    assert record.message == "accuracy not significant: p=0.21 (needs p < 0.05 (pairedBootstrap))"
    row = record.checks[-1]
    assert (row.gate, row.p_value, row.interval) == ("significance", 0.21, [-0.02, 0.08])
    assert record.model_dump(by_alias=True)["checks"][-1]["pValue"] == 0.21


def test_a_passed_run_says_which_runtime_serves_it() -> None:
    """A model the trainer could not verify as ONNX is served by scikit-learn: status says why."""
    note = "served by scikit-learn (no ONNX conversion: RuntimeError: no converter)"
    done = job("0000beef", JobPhase.SUCCEEDED, result=succeeded({"accuracy": 0.95}, serving=note))
    record = judge(job=done, spec=spec(), base=BASE)
    assert record.verdict == Verdict.PASSED
    assert record.message == f"all gate checks passed; {note}"
