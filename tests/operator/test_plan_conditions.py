"""plan()'s summary conditions: one meaning for Ready, Degraded only for production, messages."""

from __future__ import annotations

from modelpipe_contract.result import Outcome, TrainerResult
from tests.operator.builders import (
    SCENARIOS,
    condition,
    cycle,
    deployment,
    desired_version,
    invalid_data_result,
    job,
    reasons,
    serving,
    spec,
    step,
    with_,
)

from modelpipe.api.v1alpha1 import ConditionType, Reason
from modelpipe.observed import JobPhase
from modelpipe.planning import Plan


def message(planned: Plan, type_: ConditionType) -> str:
    return next(c.message for c in planned.status.conditions if c.type == type_)


def generation(planned: Plan, type_: ConditionType) -> int | None:
    return next(c.observed_generation for c in planned.status.conditions if c.type == type_)


def failed_run(**job_kwargs: object) -> Plan:
    """Production serves v1; the run for dataset v-bad ended as the Job says."""
    world = serving(desired_version())
    bad = spec(dataset={"version": "v-bad"})
    world = cycle(with_(world, spec=bad))
    return step(with_(world, jobs=(job(desired_version(bad), JobPhase.FAILED, **job_kwargs),)))


# Messages (issue 11.3)


def test_the_verdict_is_said_once_in_conditions_and_events() -> None:
    planned = failed_run(result=invalid_data_result(), exit_code=3)
    training = message(planned, ConditionType.TRAINING)
    assert "ValidationFailed: ValidationFailed" not in training
    assert training.endswith("ValidationFailed: 1 check failed")
    crashed = failed_run(
        result=TrainerResult(outcome=Outcome.TRAINING_FAILED, message="fit raised ValueError")
    )
    (event,) = crashed.events
    assert "TrainingFailed: TrainingFailed" not in event.message
    assert "rejected (TrainingFailed): fit raised ValueError" in event.message


def test_invalid_config_is_not_called_by_another_verdict_in_the_message() -> None:
    planned = failed_run(
        result=TrainerResult(outcome=Outcome.INVALID_CONFIG, message="unknown param max_dept")
    )
    last = planned.status.last_run
    assert (
        last is not None
        and last.message == "invalid training configuration: unknown param max_dept"
    )


def test_a_run_that_failed_validation_is_reported_as_not_evaluated() -> None:
    planned = failed_run(result=invalid_data_result(), exit_code=3)
    assert condition(planned, ConditionType.EVALUATED) == ("False", Reason.NOT_EVALUATED)
    said = message(planned, ConditionType.EVALUATED)
    assert "no finished run yet" not in said and "not evaluated: ValidationFailed" in said


# Ready: True iff what the current spec asks for serves (issue 11.4, 11.2a)


def test_a_failed_run_of_pinned_inputs_is_not_ready_and_production_still_serves() -> None:
    planned = failed_run(result=invalid_data_result(), exit_code=3)
    assert condition(planned, ConditionType.READY) == ("False", Reason.VALIDATION_FAILED)
    assert planned.status.production is not None
    assert f"model {planned.status.production.model_version} keeps serving" in message(
        planned, ConditionType.READY
    )


def test_a_new_model_rolling_out_while_an_older_serves_is_progressing() -> None:
    _, planned = SCENARIOS["rolling_out_while_serving"]()
    assert condition(planned, ConditionType.READY) == ("False", Reason.ROLLING_OUT)
    assert condition(planned, ConditionType.DEGRADED) == ("False", Reason.HEALTHY)


def test_a_rollout_to_a_pinned_version_is_progressing() -> None:
    _, planned = SCENARIOS["rolling_out_pinned_version"]()
    assert condition(planned, ConditionType.READY) == ("False", Reason.ROLLING_OUT)
    assert condition(planned, ConditionType.PROMOTED) == ("False", Reason.PINNED)


def test_a_pinned_version_serving_is_ready() -> None:
    world, planned = SCENARIOS["rolling_out_pinned_version"]()
    pinned = world.spec.serving.pinned_version if world.spec else None
    done = step(with_(world, status=planned.status, deployment=deployment(pinned)))
    assert condition(done, ConditionType.READY) == ("True", Reason.SERVING)


def test_training_new_inputs_while_serving_is_not_ready() -> None:
    world = serving(desired_version())
    v2 = spec(dataset={"version": "v2"})
    planned = step(cycle(with_(world, spec=v2), jobs=(job(desired_version(v2), JobPhase.ACTIVE),)))
    assert condition(planned, ConditionType.READY) == ("False", Reason.JOB_RUNNING)


def test_a_settled_pipeline_is_ready() -> None:
    planned = step(serving(desired_version()))
    assert condition(planned, ConditionType.READY) == ("True", Reason.SERVING)
    assert condition(planned, ConditionType.DEGRADED) == ("False", Reason.HEALTHY)


# Older generations never hide InvalidSpec (issue 11.2b)


def test_invalid_spec_leaves_no_current_condition_that_hides_it() -> None:
    world, planned = SCENARIOS["invalid_spec_while_training"]()
    assert condition(planned, ConditionType.READY) == ("False", Reason.INVALID_SPEC)
    assert generation(planned, ConditionType.READY) == 2
    for type_ in (ConditionType.TRAINING, ConditionType.EVALUATED, ConditionType.PROMOTED):
        assert condition(planned, type_) == ("Unknown", Reason.INVALID_SPEC)
        assert generation(planned, type_) == 2
    again = step(with_(world, status=planned.status))
    assert again.events == () and again.status == planned.status


# Degraded is production's own serving (issue 11.2c, 11.2d)


def test_production_failing_stays_degraded_while_a_retrain_runs() -> None:
    _, planned = SCENARIOS["production_failing_during_retrain"]()
    assert condition(planned, ConditionType.DEGRADED) == ("True", Reason.ROLLOUT_FAILED)
    assert condition(planned, ConditionType.TRAINING) == ("True", Reason.JOB_RUNNING)


def test_a_candidates_rollback_becomes_history_when_a_new_run_starts() -> None:
    _, rolled_back = SCENARIOS["candidate_rolled_back"]()
    assert condition(rolled_back, ConditionType.READY) == ("False", Reason.ROLLED_BACK)
    assert condition(rolled_back, ConditionType.DEGRADED) == ("False", Reason.HEALTHY)
    _, retraining = SCENARIOS["new_run_after_rollback"]()
    assert condition(retraining, ConditionType.READY) == ("False", Reason.JOB_RUNNING)
    assert condition(retraining, ConditionType.DEGRADED) == ("False", Reason.HEALTHY)


def test_production_whose_rollout_failed_is_still_promoted() -> None:
    _, planned = SCENARIOS["production_rollout_failed"]()
    assert condition(planned, ConditionType.PROMOTED) == ("True", Reason.PROMOTED)
    assert condition(planned, ConditionType.DEGRADED) == ("True", Reason.ROLLOUT_FAILED)
    assert condition(planned, ConditionType.READY) == ("False", Reason.ROLLOUT_FAILED)


def test_production_without_an_available_pod_is_degraded() -> None:
    version = desired_version()
    planned = step(with_(serving(version), deployment=deployment(version, ready=False)))
    assert condition(planned, ConditionType.DEGRADED) == ("True", Reason.DEPLOYMENT_UNAVAILABLE)
    assert condition(planned, ConditionType.READY) == ("False", Reason.DEPLOYMENT_UNAVAILABLE)


# Tightened thresholds (issue 11.5)


def test_tightened_thresholds_flag_production_once() -> None:
    world, planned = SCENARIOS["production_below_thresholds"]()
    assert condition(planned, ConditionType.EVALUATED) == (
        "False",
        Reason.PRODUCTION_BELOW_THRESHOLDS,
    )
    assert "accuracy=0.85 (needs >= 0.9)" in message(planned, ConditionType.EVALUATED)
    assert reasons(planned) == [Reason.PRODUCTION_BELOW_THRESHOLDS]
    assert planned.actions == ()  # production keeps serving, nothing retrains
    again = step(with_(world, status=planned.status), minutes=5)
    assert again.events == () and again.status == planned.status
    relaxed = spec(evaluation={"thresholds": [{"metric": "accuracy", "min": 0.8}]})
    back = step(with_(world, spec=relaxed, status=planned.status))
    assert condition(back, ConditionType.EVALUATED) == ("True", Reason.GATE_PASSED)


def test_a_threshold_on_a_metric_production_never_recorded_is_flagged() -> None:
    world = serving(desired_version(), {"accuracy": 0.95})
    added = spec(evaluation={"thresholds": [{"metric": "f1_macro", "min": 0.5}]})
    planned = step(with_(world, spec=added))
    assert condition(planned, ConditionType.EVALUATED)[1] == Reason.PRODUCTION_BELOW_THRESHOLDS
    assert "f1_macro=missing" in message(planned, ConditionType.EVALUATED)


def test_every_scenario_writes_current_conditions() -> None:
    for make in SCENARIOS.values():
        world, planned = make()
        ready = next(c for c in planned.status.conditions if c.type == ConditionType.READY)
        assert ready.observed_generation == world.metadata.generation
        assert planned.status.observed_generation == world.metadata.generation
