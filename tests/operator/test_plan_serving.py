"""plan() for serving: promotion, rollout, rollback, pinning and serving edits."""

from __future__ import annotations

from typing import Any

import pytest
from tests.operator.builders import (
    condition,
    cycle,
    deployment,
    desired_version,
    job,
    kinds,
    meta,
    observe,
    reasons,
    result,
    serving,
    spec,
    step,
    trained,
    with_,
)

from modelpipe.api.v1alpha1 import ConditionType, Reason, Verdict
from modelpipe.manifests import serving_hash
from modelpipe.observed import JobPhase, ObservedDeployment
from modelpipe.planning import (
    CreateDeployment,
    PatchDeployment,
    Promotion,
    RunFinished,
    UpdateDeployment,
)


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


def test_failed_rollout_rolls_back_to_production() -> None:
    first = desired_version()
    world = serving(first)
    new_spec = spec(dataset={"version": "v2"})
    second = desired_version(new_spec)
    world = cycle(with_(world, **{"spec": new_spec}))
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    world = cycle(world, deployment=deployment(second, ready=False, old_pods=1))
    stuck = deployment(second, ready=False, failed=True, old_pods=1)
    planned = step(with_(world, deployment=stuck))
    assert kinds(planned) == ["PatchDeployment"]
    patch = planned.actions[0]
    assert isinstance(patch, PatchDeployment) and patch.version == first
    assert reasons(planned) == [Reason.ROLLOUT_FAILED, Reason.ROLLED_BACK]
    assert planned.status.last_run is not None
    assert planned.status.last_run.verdict == Verdict.ROLLED_BACK
    # A candidate's failure: production still serves, so not Degraded; not Ready for v2.
    assert condition(planned, ConditionType.DEGRADED) == ("False", Reason.HEALTHY)
    assert condition(planned, ConditionType.READY) == ("False", Reason.ROLLED_BACK)
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
    assert reasons(planned) == [Reason.ADOPTED_JOB, Reason.GATE_PASSED, Reason.PROMOTED]


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


EDITED_SERVING: dict[str, Any] = {
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
