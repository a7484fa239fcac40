"""plan() for training runs: inputs, Jobs and verdicts; one transition per test."""

from __future__ import annotations

from typing import Any

import pytest
from tests.operator.builders import (
    condition,
    cycle,
    desired_version,
    invalid_data_result,
    job,
    kinds,
    observe,
    reasons,
    record,
    result,
    serving,
    spec,
    step,
    with_,
)

from modelpipe.api.v1alpha1 import ConditionType, ModelPipelineStatus, Reason, Verdict, all_runs
from modelpipe.observed import JobPhase, Observed
from modelpipe.planning import (
    CreateJob,
    CreateService,
    DeleteJob,
)


def test_new_pipeline_creates_one_deterministic_job() -> None:
    planned = step(observe())
    version = desired_version()
    assert kinds(planned) == ["CreateJob"]
    created = planned.actions[0]
    assert isinstance(created, CreateJob) and created.name == f"iris-{version}"
    assert reasons(planned) == [Reason.JOB_CREATED]
    assert (
        planned.status.current_run is not None
        and planned.status.current_run.job_name == created.name
    )
    assert condition(planned, ConditionType.READY) == ("False", Reason.JOB_RUNNING)


@pytest.mark.parametrize(
    "annotations",
    [
        {},
        {"argocd.argoproj.io/tracking-id": "app:modelpipe.io/ModelPipeline:ml/iris"},
        {"note": "x"},
    ],
)
def test_running_job_is_adopted_and_metadata_changes_start_nothing(
    annotations: dict[str, str],
) -> None:
    version = desired_version()
    world = cycle(
        observe(),
        jobs=(job(version, JobPhase.ACTIVE),),
        metadata=observe(annotations=annotations).metadata,
    )
    planned = step(world)
    assert planned.actions == () and planned.events == ()
    assert condition(planned, ConditionType.TRAINING) == ("True", Reason.JOB_RUNNING)


@pytest.mark.parametrize(
    ("phase", "then"),
    [
        (JobPhase.ACTIVE, []),  # followed as running
        (JobPhase.SUCCEEDED, [Reason.GATE_PASSED, Reason.ROLLING_OUT]),  # judged, promoted
    ],
)
def test_a_job_status_does_not_record_is_adopted_with_an_event_once(
    phase: JobPhase, then: list[Reason]
) -> None:
    """A restarted operator (or a new leader) finds the Job its predecessor created but
    never recorded: it records it, says so once, creates nothing."""
    version = desired_version()
    finished = {"result": result({"accuracy": 0.95})} if phase != JobPhase.ACTIVE else {}
    world = observe(jobs=(job(version, phase, **finished),))
    planned = step(world)
    assert "CreateJob" not in kinds(planned)
    assert reasons(planned)[:1] == [Reason.ADOPTED_JOB]
    assert reasons(planned)[1:] == then
    adopted = next(e for e in planned.events if e.reason == Reason.ADOPTED_JOB)
    assert f"iris-{version}" in adopted.message and adopted.type.value == "Normal"
    assert record(planned, version).job_name == f"iris-{version}"
    again = step(with_(world, status=planned.status))
    assert Reason.ADOPTED_JOB not in reasons(again) and "CreateJob" not in kinds(again)


def test_a_recorded_job_is_not_adopted_again() -> None:
    created = observe()
    version = desired_version()
    world = cycle(created, jobs=(job(version, JobPhase.ACTIVE),))
    assert Reason.ADOPTED_JOB not in reasons(step(world))


@pytest.mark.parametrize(
    ("change", "retrains"),
    [
        ({"dataset": {"version": "v2"}}, True),
        ({"code": {"revision": "def456"}}, True),
        ({"training": {"estimator": {"className": "sklearn.tree.DecisionTreeClassifier"}}}, True),
        (
            {
                "training": {
                    "estimator": {"className": "sklearn.linear_model.LogisticRegression"},
                    "seed": 7,
                }
            },
            True,
        ),
        (
            {
                "training": {
                    "estimator": {"className": "sklearn.linear_model.LogisticRegression"},
                    "backoffLimit": 5,
                    "resources": {"limits": {"memory": "1Gi"}},
                }
            },
            False,
        ),
        ({"evaluation": {"thresholds": [{"metric": "accuracy", "min": 0.5}]}}, False),
        ({"historyLimit": 3}, False),
    ],
)
def test_which_spec_changes_retrain(change: dict[str, Any], retrains: bool) -> None:
    assert (desired_version(spec(**change)) != desired_version()) is retrains


def test_retrain_annotation_is_a_new_input() -> None:
    assert desired_version(None, **{"modelpipe.io/retrain": "1"}) != desired_version()
    assert desired_version(None, **{"modelpipe.io/retrain": "1"}) == desired_version(
        None, **{"modelpipe.io/retrain": "1"}
    )


def test_input_change_supersedes_the_running_job() -> None:
    old = desired_version()
    world = cycle(observe(), jobs=(job(old, JobPhase.ACTIVE),))
    planned = step(with_(world, **{"spec": spec(dataset={"version": "v2"})}))
    assert kinds(planned) == ["DeleteJob", "CreateJob"]
    assert isinstance(planned.actions[0], DeleteJob) and planned.actions[0].name == f"iris-{old}"
    assert all_runs(planned.status)[1].verdict == Verdict.SUPERSEDED
    assert reasons(planned) == [Reason.JOB_SUPERSEDED, Reason.JOB_CREATED]


@pytest.mark.parametrize(
    ("job_kwargs", "phase", "verdict", "reason"),
    [
        (
            {"result": result({"accuracy": 0.5})},
            JobPhase.SUCCEEDED,
            Verdict.GATE_FAILED,
            Reason.GATE_FAILED,
        ),
        (
            {"result": result({"accuracy": float("nan")})},
            JobPhase.SUCCEEDED,
            Verdict.GATE_FAILED,
            Reason.GATE_FAILED,
        ),
        (
            {"result": invalid_data_result(), "exit_code": 3},
            JobPhase.FAILED,
            Verdict.VALIDATION_FAILED,
            Reason.VALIDATION_FAILED,
        ),
        (
            {"code_test_failed": True, "code_test_message": "exit code 1"},
            JobPhase.FAILED,
            Verdict.CODE_VALIDATION_FAILED,
            Reason.CODE_VALIDATION_FAILED,
        ),
        (
            {"exit_code": 1, "failure_message": "BackoffLimitExceeded"},
            JobPhase.FAILED,
            Verdict.TRAINING_FAILED,
            Reason.TRAINING_FAILED,
        ),
        (
            {"result_error": "not JSON"},
            JobPhase.SUCCEEDED,
            Verdict.TRAINING_FAILED,
            Reason.TRAINING_FAILED,
        ),
    ],
)
def test_rejected_runs_leave_production_alone(
    job_kwargs: dict[str, Any], phase: JobPhase, verdict: Verdict, reason: Reason
) -> None:
    first = desired_version()
    world = serving(first)
    new_spec = spec(dataset={"version": "v-bad"})
    bad = desired_version(new_spec)
    world = cycle(with_(world, **{"spec": new_spec}))
    world = with_(world, **{"jobs": (job(bad, phase, **job_kwargs),)})
    planned = step(world)
    assert planned.actions == ()
    assert planned.status.last_run is not None and planned.status.last_run.verdict == verdict
    assert (
        planned.status.production is not None and planned.status.production.model_version == first
    )
    assert reasons(planned) == [reason]
    assert planned.events[0].type == "Warning" and first in planned.events[0].message
    # Ready has one meaning: the current inputs cannot reach production, whatever serves.
    assert condition(planned, ConditionType.READY) == ("False", reason)
    assert condition(planned, ConditionType.DEGRADED) == ("False", Reason.HEALTHY)
    # The verdict is final for these inputs: the Job going away starts nothing.
    later = step(with_(world, **{"status": planned.status, "jobs": ()}), minutes=5)
    assert later.actions == () and later.events == ()


def test_gate_failure_lists_failing_checks_with_values() -> None:
    world = serving(desired_version())
    new_spec = spec(dataset={"version": "v2"})
    world = cycle(with_(world, **{"spec": new_spec}))
    version = desired_version(new_spec)
    world = with_(
        world, **{"jobs": (job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.5})),)}
    )
    planned = step(world)
    last = planned.status.last_run
    assert last is not None and [(c.metric, c.value, c.passed) for c in last.checks] == [
        ("accuracy", 0.5, False)
    ]
    assert "accuracy=0.5 (needs >= 0.8)" in planned.events[0].message


def test_champion_gate_rejects_a_worse_candidate() -> None:
    champion_spec = spec(evaluation={"thresholds": [], "champion": {"metric": "log_loss"}})
    world = serving(desired_version(champion_spec))
    world = with_(world, **{"spec": champion_spec})
    world = cycle(world)
    new_spec = spec(
        dataset={"version": "v2"}, evaluation={"thresholds": [], "champion": {"metric": "log_loss"}}
    )
    world = with_(world, **{"spec": new_spec})
    created = step(world)
    job_manifest = next(a for a in created.actions if isinstance(a, CreateJob)).manifest
    assert job_manifest["metadata"]["annotations"]["modelpipe.io/champion-version"]
    version = desired_version(new_spec)
    worse = result({"log_loss": 0.4}, championMetrics={"log_loss": 0.2})
    world = with_(
        cycle(world),
        **{"jobs": (job(version, JobPhase.SUCCEEDED, result=worse, champion_version="x"),)},
    )
    planned = step(world)
    assert (
        planned.status.last_run is not None
        and planned.status.last_run.verdict == Verdict.GATE_FAILED
    )
    assert planned.actions == ()


def test_missing_pvc_blocks_training_and_warns_once() -> None:
    planned = step(observe(pvc_exists=False))
    assert planned.actions == () and reasons(planned) == [Reason.PVC_NOT_FOUND]
    assert condition(planned, ConditionType.READY) == ("False", Reason.PVC_NOT_FOUND)
    assert "spec.artifacts.pvc" in planned.events[0].message and planned.requeue_after
    again = step(observe(pvc_exists=False, status=planned.status))
    assert again.events == ()


def test_suspended_pipeline_starts_nothing() -> None:
    planned = step(observe(spec(suspend=True)))
    assert planned.actions == ()
    assert condition(planned, ConditionType.TRAINING) == ("False", Reason.SUSPENDED)


def test_invalid_spec_becomes_a_condition_and_waits() -> None:
    world = Observed(
        metadata=observe().metadata,
        status=ModelPipelineStatus(),
        spec=None,
        spec_error="spec.training: field required",
    )
    planned = step(world)
    assert planned.actions == ()
    assert condition(planned, ConditionType.READY) == ("False", Reason.INVALID_SPEC)
    again = step(with_(world, **{"status": planned.status}))
    assert again.events == ()


def test_history_is_bounded_and_old_jobs_pruned() -> None:
    world = serving(desired_version(spec(historyLimit=1)))
    world = with_(world, **{"spec": spec(historyLimit=1, dataset={"version": "v2"})})
    old = all_runs(world.status)[0].model_version
    planned = step(with_(world, **{"jobs": (job(old, JobPhase.SUCCEEDED),)}))
    assert len(all_runs(planned.status)) == 1
    assert any(isinstance(a, DeleteJob) and a.name == f"iris-{old}" for a in planned.actions)
    assert not any(isinstance(a, CreateService) for a in planned.actions)


def test_followed_inputs_wait_until_resolved() -> None:
    resolved = spec(dataset={"version": None, "uri": "https://data.example/iris.csv"})
    planned = step(observe(resolved))
    assert planned.actions == ()
    assert condition(planned, ConditionType.READY) == ("False", Reason.WAITING_FOR_INPUTS)


def test_polling_settings_do_not_retrain() -> None:
    polled = spec(dataset={"pollInterval": "5m", "maxBytes": 1000})
    assert desired_version(polled) == desired_version()


def _revert_world() -> tuple[Observed, str, str]:
    """v1 promoted and serving, then v2 trained and failed the gate; the spec is back at v1."""
    first = desired_version()
    world = serving(first)
    v2 = spec(dataset={"version": "v2"})
    second = desired_version(v2)
    world = cycle(with_(world, **{"spec": v2}))
    low = result({"accuracy": 0.1})
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=low),))
    world = cycle(world)  # the run is judged: GateFailed
    return with_(world, **{"spec": spec(), "jobs": ()}), first, second


def test_each_run_has_one_home_last_run_or_history() -> None:
    world, first, second = _revert_world()
    planned = step(world)
    assert planned.status.last_run is not None
    assert planned.status.last_run.model_version == second
    assert [r.model_version for r in planned.status.history] == [first]


def test_a_status_with_last_run_repeated_in_history_reads_each_run_once() -> None:
    """An older operator kept a copy of lastRun at the head of history."""
    world, first, second = _revert_world()
    old = world.status.model_copy(deep=True)
    assert old.last_run is not None
    old.history = [old.last_run, *old.history]
    planned = step(with_(world, status=old))
    assert [r.model_version for r in all_runs(planned.status)] == [second, first]
    assert [r.model_version for r in planned.status.history] == [first]


def test_after_a_revert_the_verdict_shown_is_that_of_the_inputs_own_run() -> None:
    world, first, _ = _revert_world()
    planned = step(world)
    assert planned.status.inputs is not None and planned.status.inputs.model_version == first
    assert planned.status.inputs.verdict == Verdict.PROMOTED
    assert planned.status.last_run is not None
    assert planned.status.last_run.verdict == Verdict.GATE_FAILED
