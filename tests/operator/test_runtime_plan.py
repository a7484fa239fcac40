"""Accepted specs that used to fail badly at run time (issue 16), as one clear condition each.

- a missing spec.training.serviceAccountName: ServiceAccountNotFound at once, no Job;
- a failed git checkout: "code checkout failed" with the exit code, not "trainer crashed";
- a run config too large for its ConfigMap: InvalidSpec, no Job, no retries.

The same on the local cluster: tests/e2e/test_runtime_e2e.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.operator.builders import cycle, desired_version, job, observe, spec, step, with_

from modelpipe.api.v1alpha1 import ConditionType, Reason, Verdict
from modelpipe.k8s.bodies import PodBody, parse
from modelpipe.k8s.jobs import with_pod_report
from modelpipe.manifests import runconfig
from modelpipe.observed import JobPhase
from modelpipe.planning import CreateJob, Plan

ACCOUNT = spec(training={"serviceAccountName": "trainer"})


def condition(planned: Plan, type_: ConditionType) -> tuple[str, str, str]:
    found = next(c for c in planned.status.conditions if c.type == type_)
    return found.status, found.reason, found.message


def test_a_missing_service_account_is_reported_before_any_job() -> None:
    planned = step(with_(observe(ACCOUNT), service_account_exists=False))
    assert planned.actions == ()
    ready = condition(planned, ConditionType.READY)
    assert ready[:2] == ("False", Reason.SERVICE_ACCOUNT_NOT_FOUND)
    assert "ServiceAccount trainer not found in namespace ml" in ready[2]
    assert "spec.training.serviceAccountName" in ready[2]
    training = condition(planned, ConditionType.TRAINING)
    assert training[:2] == ("False", Reason.SERVICE_ACCOUNT_NOT_FOUND)
    assert [e.reason for e in planned.events] == [Reason.SERVICE_ACCOUNT_NOT_FOUND]
    assert planned.requeue_after  # creating the account is not an event the operator watches
    again = step(with_(observe(ACCOUNT), service_account_exists=False, status=planned.status))
    assert again.actions == () and again.events == ()  # no retry storm, no repeated warning
    created = step(with_(observe(ACCOUNT), status=again.status))
    assert [type(a) for a in created.actions] == [CreateJob]


CLONE_FAILED: dict[str, Any] = {
    "metadata": {"creationTimestamp": "2026-11-27T11:50:00Z"},
    "status": {
        "initContainerStatuses": [
            {
                "name": "git-clone",
                "state": {
                    "terminated": {
                        "exitCode": 128,
                        "reason": "Error",
                        "message": "remote: token=hunter2 fatal: repository not found",
                    }
                },
            }
        ],
        "containerStatuses": [{"name": "train", "state": {"waiting": {"reason": "PodInit"}}}],
    },
}


def test_a_failed_checkout_is_reported_in_the_operator_s_words() -> None:
    git = spec(code={"revision": "abc123", "git": {"url": "http://127.0.0.1:9/models.git"}})
    version = desired_version(git)
    failed = with_pod_report(
        job(version, JobPhase.FAILED, failure_message="BackoffLimitExceeded: too many"),
        [parse(PodBody, CLONE_FAILED)],
    )
    assert failed.checkout_failure == "exit code 128, reason Error"
    planned = step(cycle(observe(git), jobs=(failed,)))
    last = planned.status.last_run
    assert last is not None and last.verdict == Verdict.TRAINING_FAILED
    assert last.message.startswith("code checkout failed: git-clone of revision abc123")
    assert "exit code 128, reason Error" in last.message
    assert "trainer crashed" not in last.message
    assert "hunter2" not in last.message and "remote:" not in last.message
    assert any("code checkout failed" in e.message for e in planned.events)


def test_a_run_config_too_large_for_its_config_map_is_an_invalid_spec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runconfig, "MAX_RUN_CONFIG_BYTES", 100)
    planned = step(observe())
    assert planned.actions == ()
    ready = condition(planned, ConditionType.READY)
    assert ready[:2] == ("False", Reason.INVALID_SPEC) and "more than the 100" in ready[2]
    assert planned.requeue_after is None  # waits for the next spec edit
    again = step(with_(observe(), status=planned.status))
    assert again.actions == () and again.events == ()
