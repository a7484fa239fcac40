"""plan() retries a rollout whose pods were slow to become ready: bounded, then by hand."""

from __future__ import annotations

from tests.operator.builders import (
    SCENARIOS,
    condition,
    deployment,
    desired_version,
    observe,
    step,
    trained,
    with_,
)

from modelpipe.api.v1alpha1 import ConditionType, Reason, Verdict, all_runs
from modelpipe.layout import RETRY_ROLLOUT_ANNOTATION, ROLLOUT_ATTEMPT_ANNOTATION
from modelpipe.observed import Observed
from modelpipe.planning import PatchDeployment, Plan
from modelpipe.planning.retry import ROLLOUT_ATTEMPTS


def rolled_back() -> tuple[Observed, Plan]:
    """The candidate missed its deadline; the Deployment serves production again."""
    world, planned = SCENARIOS["candidate_rolled_back"]()
    production = planned.status.production
    assert production is not None
    return with_(
        world, status=planned.status, deployment=deployment(production.model_version)
    ), planned


def patched_to(planned: Plan) -> list[tuple[str, str | None]]:
    return [
        (
            a.version,
            a.patch["spec"]["template"]["metadata"]["annotations"].get(ROLLOUT_ATTEMPT_ANNOTATION),
        )
        for a in planned.actions
        if isinstance(a, PatchDeployment)
    ]


def fail_again(world: Observed, planned: Plan, version: str) -> tuple[Observed, Plan]:
    """The retried rollout misses its deadline too; then production serves again."""
    rolling = with_(
        world, status=planned.status, deployment=deployment(version, ready=False, old_pods=1)
    )
    failed = step(
        with_(rolling, deployment=deployment(version, ready=False, failed=True, old_pods=1))
    )
    production = failed.status.production
    assert production is not None
    return with_(
        rolling, status=failed.status, deployment=deployment(production.model_version)
    ), failed


def test_a_rolled_back_rollout_is_retried_after_a_backoff() -> None:
    world, planned = rolled_back()
    record = all_runs(planned.status)[0]
    assert (record.verdict, record.rollout_attempts) == (Verdict.ROLLED_BACK, 1)
    assert record.rollout_retry_at == "2026-11-27T12:01:00Z" and planned.requeue_after == 60
    assert "retrying at 2026-11-27T12:01:00Z" in record.message
    waiting = step(world, minutes=0.5)
    assert waiting.actions == () and waiting.requeue_after == 30
    assert condition(waiting, ConditionType.READY) == ("False", Reason.ROLLED_BACK)
    retried = step(world, minutes=1)
    assert patched_to(retried) == [(record.model_version, "2")]
    assert condition(retried, ConditionType.READY) == ("False", Reason.ROLLING_OUT)


def test_retries_are_bounded_then_the_annotation_retries() -> None:
    world, planned = rolled_back()
    version = all_runs(planned.status)[0].model_version
    for _ in range(ROLLOUT_ATTEMPTS - 1):
        record = next(r for r in all_runs(world.status) if r.model_version == version)
        due = step(world, minutes=60)
        world, planned = fail_again(world, due, version)
    record = all_runs(planned.status)[0]
    assert (record.rollout_attempts, record.rollout_retry_at) == (ROLLOUT_ATTEMPTS, None)
    assert RETRY_ROLLOUT_ANNOTATION in record.message
    assert RETRY_ROLLOUT_ANNOTATION in next(
        c.message for c in planned.status.conditions if c.type == ConditionType.READY
    )
    assert step(world, minutes=600).actions == ()  # given up: no more automatic rollouts
    asked = with_(world, metadata=observe(annotations={RETRY_ROLLOUT_ANNOTATION: "1"}).metadata)
    retried = step(asked, minutes=600)
    assert patched_to(retried) == [(version, str(ROLLOUT_ATTEMPTS + 1))]
    again = with_(asked, status=retried.status)
    assert patched_to(step(again, minutes=601)) == [(version, str(ROLLOUT_ATTEMPTS + 1))]


def test_a_first_model_that_was_slow_is_rolled_anew_on_the_same_deployment() -> None:
    """No production to roll back to: the retry must change the pod template to roll."""
    version = desired_version()
    world = with_(trained(version), deployment=deployment(version, ready=False))
    world = with_(world, status=step(world).status)
    failed = step(with_(world, deployment=deployment(version, ready=False, failed=True)))
    assert failed.actions == () and all_runs(failed.status)[0].verdict == Verdict.ROLLED_BACK
    stuck = with_(
        world, status=failed.status, deployment=deployment(version, ready=False, failed=True)
    )
    assert step(stuck, minutes=0.5).actions == ()
    assert patched_to(step(stuck, minutes=1)) == [(version, "2")]


def test_a_pinned_version_that_was_rolled_back_is_not_rolled_in_a_loop() -> None:
    world, planned = SCENARIOS["rolling_out_pinned_version"]()
    pinned = world.spec.serving.pinned_version if world.spec else None
    assert pinned is not None
    stuck = with_(
        world,
        status=planned.status,
        deployment=deployment(pinned, ready=False, failed=True, old_pods=1),
    )
    failed = step(stuck)
    production = failed.status.production
    assert production is not None and production.model_version != pinned
    assert patched_to(failed) == [(production.model_version, None)]  # back to production
    back = with_(stuck, status=failed.status, deployment=deployment(production.model_version))
    assert step(back, minutes=0.5).actions == ()  # not rolled again at once
    assert condition(step(back, minutes=0.5), ConditionType.READY) == ("False", Reason.ROLLED_BACK)
    assert [v for v, _ in patched_to(step(back, minutes=1))] == [pinned]


def test_pods_that_became_ready_late_are_taken_without_a_new_rollout() -> None:
    """A loaded node: the first model's pods were ready only after the deadline."""
    version = desired_version()
    world = with_(trained(version), deployment=deployment(version, ready=False))
    world = with_(world, status=step(world).status)
    failed = step(with_(world, deployment=deployment(version, ready=False, failed=True)))
    late = with_(world, status=failed.status, deployment=deployment(version))
    taken = step(late, minutes=0.5)  # before the retry is due
    assert taken.actions == ()
    assert taken.status.production is not None and taken.status.production.model_version == version
    assert condition(taken, ConditionType.READY) == ("True", Reason.SERVING)
