"""plan(): one transition per test, state in, state out."""

from __future__ import annotations

from typing import Any

import pytest
from tests.operator.builders import (
    cycle,
    deployment,
    desired_version,
    invalid_data_result,
    job,
    meta,
    observe,
    result,
    spec,
    step,
    with_,
)

from modelpipe.api.v1alpha1 import ConditionType, ModelPipelineStatus, Reason, Verdict
from modelpipe.manifests import serving_hash
from modelpipe.observed import JobPhase, Observed, ObservedDeployment
from modelpipe.planning import (
    CreateDeployment,
    CreateJob,
    CreateService,
    DeleteJob,
    PatchDeployment,
    Plan,
    Promotion,
    RunFinished,
    UpdateDeployment,
)


def condition(planned: Plan, type_: ConditionType) -> tuple[str, Reason]:
    found = next(c for c in planned.status.conditions if c.type == type_)
    return found.status, found.reason


def kinds(planned: Plan) -> list[str]:
    return [type(a).__name__ for a in planned.actions]


def reasons(planned: Plan) -> list[Reason]:
    return [e.reason for e in planned.events]


def trained(version: str, metrics: dict[str, float] | None = None, **kwargs: Any) -> Observed:
    """A pipeline whose Job for ``version`` succeeded, after the Job-created pass."""
    first = observe()
    return cycle(
        first,
        jobs=(job(version, JobPhase.SUCCEEDED, result=result(metrics or {"accuracy": 0.95})),),
        **kwargs,
    )


def serving(version: str, metrics: dict[str, float] | None = None) -> Observed:
    """A pipeline whose model ``version`` passed the gate and rolled out."""
    world = cycle(trained(version, metrics))
    return cycle(with_(world, deployment=deployment(version)))


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
    assert condition(planned, ConditionType.READY) == ("False", Reason.NO_MODEL_YET)


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
    assert desired_version(**{"modelpipe.io/retrain": "1"}) != desired_version()
    assert desired_version(**{"modelpipe.io/retrain": "1"}) == desired_version(
        **{"modelpipe.io/retrain": "1"}
    )


def test_input_change_supersedes_the_running_job() -> None:
    old = desired_version()
    world = cycle(observe(), jobs=(job(old, JobPhase.ACTIVE),))
    planned = step(with_(world, **{"spec": spec(dataset={"version": "v2"})}))
    assert kinds(planned) == ["DeleteJob", "CreateJob"]
    assert isinstance(planned.actions[0], DeleteJob) and planned.actions[0].name == f"iris-{old}"
    assert planned.status.history[1].verdict == Verdict.SUPERSEDED
    assert reasons(planned) == [Reason.JOB_SUPERSEDED, Reason.JOB_CREATED]


def test_passing_run_creates_the_serving_deployment_and_service() -> None:
    version = desired_version()
    world = trained(version)
    planned = step(world)
    assert kinds(planned) == ["CreateDeployment", "CreateService"]
    created = planned.actions[0]
    assert isinstance(created, CreateDeployment)
    assert created.manifest["metadata"]["annotations"]["modelpipe.io/model-version"] == version
    assert reasons(planned) == [Reason.GATE_PASSED, Reason.ROLLING_OUT]
    assert RunFinished(Verdict.PASSED) in planned.samples
    assert planned.status.production is None


def test_completed_rollout_promotes_exactly_once() -> None:
    version = desired_version()
    world = cycle(trained(version), deployment=deployment(None))
    world = with_(world, **{"deployment": deployment(version)})
    planned = step(world)
    assert planned.actions == ()
    assert reasons(planned) == [Reason.PROMOTED]
    assert (
        planned.status.production is not None and planned.status.production.model_version == version
    )
    assert any(isinstance(s, Promotion) for s in planned.samples)
    assert condition(planned, ConditionType.READY) == ("True", Reason.SERVING)
    again = step(with_(world, **{"status": planned.status}))
    assert again.actions == () and again.events == () and again.status == planned.status


def test_settled_pipeline_is_idle() -> None:
    world = serving(desired_version())
    planned = step(world, minutes=30)
    assert planned.actions == () and planned.events == () and planned.status == world.status


def test_new_dataset_rolls_the_existing_deployment() -> None:
    first = desired_version()
    world = serving(first)
    new_spec = spec(dataset={"version": "v2"})
    second = desired_version(new_spec)
    world = with_(world, **{"spec": new_spec})
    world = cycle(world)
    world = with_(
        world, **{"jobs": (job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.97})),)}
    )
    planned = step(world)
    assert kinds(planned) == ["PatchDeployment"]
    patch = planned.actions[0]
    assert isinstance(patch, PatchDeployment) and patch.version == second
    env = patch.patch["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "MODEL_DIR", "value": f"/artifacts/iris/{second}"} in env
    assert (
        planned.status.production is not None and planned.status.production.model_version == first
    )


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
    assert condition(planned, ConditionType.READY) == ("True", Reason.SERVING)
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


def test_failed_rollout_rolls_back_to_production() -> None:
    first = desired_version()
    world = serving(first)
    new_spec = spec(dataset={"version": "v2"})
    second = desired_version(new_spec)
    world = cycle(with_(world, **{"spec": new_spec}))
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    world = cycle(world, deployment=deployment(second, ready=False))
    planned = step(with_(world, **{"deployment": deployment(second, ready=False, failed=True)}))
    assert kinds(planned) == ["PatchDeployment"]
    patch = planned.actions[0]
    assert isinstance(patch, PatchDeployment) and patch.version == first
    assert reasons(planned) == [Reason.ROLLOUT_FAILED, Reason.ROLLED_BACK]
    assert planned.status.history[0].verdict == Verdict.ROLLED_BACK
    assert condition(planned, ConditionType.DEGRADED) == ("True", Reason.ROLLED_BACK)
    # Once the Deployment serves the old model again, nothing more happens.
    world = with_(world, **{"status": planned.status, "deployment": deployment(first)})
    settled = step(world)
    assert settled.actions == () and settled.events == ()


def test_pinning_rolls_back_and_pauses_promotion() -> None:
    first = desired_version()
    world = serving(first)
    new_spec = spec(dataset={"version": "v2"})
    second = desired_version(new_spec)
    world = cycle(with_(world, **{"spec": new_spec}))
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    world = cycle(cycle(world), deployment=deployment(second))
    world = cycle(world)
    assert world.status.production is not None and world.status.production.model_version == second
    pinned = spec(dataset={"version": "v2"}, serving={"template": {}, "pinnedVersion": first})
    planned = step(with_(world, **{"spec": pinned}))
    assert [getattr(a, "version", None) for a in planned.actions] == [first]
    assert condition(planned, ConditionType.PROMOTED) == ("False", Reason.PINNED)
    done = step(
        with_(world, **{"spec": pinned, "status": planned.status, "deployment": deployment(first)})
    )
    assert done.status.production is not None and done.status.production.model_version == first
    assert done.status.production.reason.startswith("pinned")
    assert reasons(done) == [Reason.PINNED]


def test_unknown_pinned_version_blocks_with_a_clear_message() -> None:
    world = serving(desired_version())
    pinned = spec(serving={"template": {}, "pinnedVersion": "deadbeef"})
    planned = step(with_(world, **{"spec": pinned}))
    assert planned.actions == ()
    assert condition(planned, ConditionType.READY) == ("False", Reason.PINNED_VERSION_UNKNOWN)
    assert "deadbeef" in planned.events[0].message


def test_missing_pvc_blocks_training_and_warns_once() -> None:
    planned = step(observe(pvc_exists=False))
    assert planned.actions == () and reasons(planned) == [Reason.PVC_NOT_FOUND]
    assert condition(planned, ConditionType.READY) == ("False", Reason.PVC_NOT_FOUND)
    assert "spec.artifacts.pvc" in planned.events[0].message and planned.requeue_after
    again = step(observe(pvc_exists=False, status=planned.status))
    assert again.events == ()


def test_missing_serving_deployment_blocks_promotion() -> None:
    named = spec(serving={"deploymentName": "web"})
    version = desired_version(named)
    world = cycle(
        observe(named), jobs=(job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),)
    )
    planned = step(world)
    assert planned.actions == ()
    assert condition(planned, ConditionType.READY) == ("False", Reason.DEPLOYMENT_NOT_FOUND)
    assert "Deployment web not found" in planned.events[-1].message


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


def test_restart_after_rollout_before_status_write_promotes_once() -> None:
    """The operator died after patching: status knows nothing, the world has it all."""
    version = desired_version()
    world = observe(
        jobs=(job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),),
        deployment=deployment(version),
    )
    planned = step(world)
    assert planned.actions == ()
    assert (
        planned.status.production is not None and planned.status.production.model_version == version
    )
    assert reasons(planned) == [Reason.GATE_PASSED, Reason.PROMOTED]


def test_history_is_bounded_and_old_jobs_pruned() -> None:
    world = serving(desired_version(spec(historyLimit=1)))
    world = with_(world, **{"spec": spec(historyLimit=1, dataset={"version": "v2"})})
    old = world.status.history[0].model_version
    planned = step(with_(world, **{"jobs": (job(old, JobPhase.SUCCEEDED),)}))
    assert len(planned.status.history) == 1
    assert any(isinstance(a, DeleteJob) and a.name == f"iris-{old}" for a in planned.actions)
    assert not any(isinstance(a, CreateService) for a in planned.actions)


def test_followed_inputs_wait_until_resolved() -> None:
    followed = spec(dataset={"version": None, "uri": "https://data.example/iris.csv"})
    planned = step(observe(followed))
    assert planned.actions == ()
    assert condition(planned, ConditionType.READY) == ("False", Reason.WAITING_FOR_INPUTS)


def test_polling_settings_do_not_retrain() -> None:
    polled = spec(dataset={"pollInterval": "5m", "maxBytes": 1000})
    assert desired_version(polled) == desired_version()


def test_surging_rollout_with_unready_new_pod_is_not_done() -> None:
    """maxSurge: the old pod keeps availableReplicas at 1 while the new one is not Ready."""
    surge = ObservedDeployment(
        name="iris",
        owned=True,
        generation=2,
        observed_generation=2,
        replicas=1,
        updated_replicas=1,
        total_replicas=2,
        ready_replicas=1,
        available_replicas=1,
        template_version="v2",
        containers=("serve",),
    )
    assert not surge.rolled_out
    assert ObservedDeployment(**{**surge.__dict__, "total_replicas": 1}).rolled_out


EDITED_SERVING = {
    "template": {
        "command": ["modelpipe-trainer", "serve", "--port", "8080"],
        "resources": {"limits": {"memory": "1Gi"}},
    },
    "replicas": 3,
}


def test_serving_edits_update_the_owned_deployment_and_keep_its_model() -> None:
    version = desired_version()
    world = serving(version)
    edited = spec(serving=EDITED_SERVING)
    assert desired_version(edited) == version  # serving is not an input: nothing retrains
    planned = step(with_(world, spec=edited))
    assert kinds(planned) == ["UpdateDeployment"] and reasons(planned) == [Reason.SERVING_UPDATED]
    update = planned.actions[0]
    assert isinstance(update, UpdateDeployment)
    assert update.patch["spec"]["replicas"] == 3
    pod = update.patch["spec"]["template"]["spec"]
    serve = pod["containers"][0]
    assert serve["command"] == EDITED_SERVING["template"]["command"]
    assert serve["resources"] == {"limits": {"memory": "1Gi"}}
    assert {"name": "MODEL_VERSION", "value": version} in serve["env"]
    assert pod["serviceAccountName"] is None  # a merge patch drops what the spec dropped
    assert planned.status.production == world.status.production

    # The Deployment now carries the new hash and rolls: same model, still Promoted, no writes.
    rolling = deployment(
        version, ready=False, replicas=3, serving_hash=serving_hash(meta=meta(), spec=edited)
    )
    again = step(with_(world, spec=edited, status=planned.status, deployment=rolling))
    assert again.actions == () and again.events == ()
    assert condition(again, ConditionType.PROMOTED) == ("True", Reason.PROMOTED)
    assert again.status.production == world.status.production


def test_serving_edit_and_promotion_in_one_pass_keep_their_order() -> None:
    first = desired_version()
    world = serving(first)
    new_spec = spec(dataset={"version": "v2"}, serving=EDITED_SERVING)
    second = desired_version(new_spec)
    world = cycle(with_(world, spec=new_spec))
    done = (job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.97})),)
    planned = step(with_(world, jobs=done))
    assert kinds(planned) == ["UpdateDeployment", "PatchDeployment"]
    update, patch = planned.actions
    assert isinstance(update, UpdateDeployment) and isinstance(patch, PatchDeployment)
    serve = update.patch["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "MODEL_VERSION", "value": first} in serve["env"]  # the edit keeps the model
    assert patch.version == second  # the promotion moves it


@pytest.mark.parametrize(
    "serving_spec",
    [{"deploymentName": "web"}, {"template": {}}],
    ids=["user-owned", "unchanged-template"],
)
def test_deployments_not_ours_or_unchanged_are_left_alone(serving_spec: dict[str, Any]) -> None:
    version = desired_version()
    the_spec = spec(serving=serving_spec)
    hand_scaled = deployment(version, replicas=5)  # scaled by hand: the spec did not change
    world = with_(serving(version), spec=the_spec, deployment=hand_scaled)
    if "deploymentName" in serving_spec:
        world = with_(world, deployment=deployment(version, serving_hash="stale"))
    planned = step(world)
    assert planned.actions == () and planned.events == ()
