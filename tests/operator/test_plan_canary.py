"""plan() for canary steps (spec.serving.strategy Canary): one transition per test, from
the observed Deployments, the pods' /metrics and the clock."""

from __future__ import annotations

from dataclasses import replace

from tests.operator.builders import condition, kinds, reasons, record, step, with_
from tests.operator.builders import pod_metrics as pods
from tests.operator.canary_world import (
    REPLICAS,
    canary,
    candidate_passed,
    in_step_one,
    stable,
)

from modelpipe.api.v1alpha1 import ConditionType, Reason, Verdict
from modelpipe.planning import CreateDeployment, PatchDeployment, ScaleDeployment
from modelpipe.planning.canary import split
from modelpipe.planning.outcome import Plan


def scales(planned: Plan) -> dict[str, int]:
    return {a.name: a.replicas for a in planned.actions if isinstance(a, ScaleDeployment)}


def test_split_is_a_replica_ratio_with_one_pod_of_each_below_100() -> None:
    assert [split(4, w) for w in (1, 25, 50, 75, 99, 100)] == [
        (3, 1), (3, 1), (2, 2), (1, 3), (1, 3), (0, 4),
    ]  # fmt: skip
    assert split(1, 10) == (1, 1) and split(0, 50) == (1, 1)


def test_a_candidate_that_passed_the_gate_enters_the_first_step_not_production() -> None:
    world, _, first, second = candidate_passed()
    planned = step(world)
    created = [a for a in planned.actions if isinstance(a, CreateDeployment)]
    assert [c.manifest["metadata"]["name"] for c in created] == ["iris-canary"]
    manifest = created[0].manifest
    assert manifest["spec"]["replicas"] == 1
    assert manifest["spec"]["selector"]["matchLabels"]["modelpipe.io/track"] == "canary"
    assert scales(planned) == {"iris": 3}
    assert not [a for a in planned.actions if isinstance(a, PatchDeployment)]
    assert planned.status.production and planned.status.production.model_version == first
    progress = planned.status.canary
    assert progress and (progress.model_version, progress.step, progress.weight) == (second, 0, 25)
    assert Reason.CANARY_STEP in reasons(planned)
    # Argo CD: Progressing (Ready=False, a reason that is not a failure), the step in words.
    assert condition(planned, ConditionType.READY) == ("False", Reason.CANARY_STEP)
    ready = next(c for c in planned.status.conditions if c.type == ConditionType.READY)
    assert "step 1/2: 25% (1 of 4 pods)" in ready.message


def test_a_first_model_rolls_at_once() -> None:
    world, _, _, _ = candidate_passed()
    first_model = world.status.model_copy(update={"production": None})
    planned = step(with_(world, deployment=None, status=first_model))
    assert "CreateDeployment" in kinds(planned)
    assert planned.status.canary is None


def test_healthy_metrics_wait_for_the_pause_then_enter_the_next_step() -> None:
    world, _, _, second = in_step_one()
    healthy = with_(world, pod_metrics=pods(second))
    waiting = step(healthy, minutes=0.5)
    assert not kinds(waiting) and Reason.CANARY_STEP not in reasons(waiting)
    assert waiting.status.canary and waiting.status.canary.step == 0
    assert waiting.requeue_after is not None and waiting.requeue_after <= 5
    passed = step(healthy, minutes=1.5)
    assert passed.status.canary and (passed.status.canary.step, passed.status.canary.weight) == (
        1,
        50,
    )
    assert scales(passed) == {"iris": 2}
    assert "UpdateDeployment" in kinds(passed)  # the canary to 2 pods
    row = record(passed, second).checks[-1]
    assert (row.gate, row.metric, row.passed) == ("analysis", "canary 25%", True)


def test_the_last_step_passed_promotes_by_rolling_production_with_all_its_pods() -> None:
    world, v2, first, second = in_step_one()
    at_two = step(with_(world, pod_metrics=pods(second)), minutes=1.5)
    world = with_(
        world,
        status=at_two.status,
        deployment=stable(v2, first, replicas=2),
        canary=canary(second, 2),
        pod_metrics=pods(second),
    )
    world = with_(world, status=step(world, minutes=2).status)  # step 2's pods seen ready
    done = step(world, minutes=3.5)
    patches = [a for a in done.actions if isinstance(a, PatchDeployment)]
    assert [(p.name, p.version) for p in patches] == [("iris", second)]
    assert scales(done) == {"iris": REPLICAS}
    assert done.status.canary and done.status.canary.step == 2
    rows = [c.metric for c in record(done, second).checks if c.gate == "analysis"]
    assert rows == ["canary 25%", "canary 50%"]
    # Production's pods start again while the canary's answer: not Degraded (Argo CD).
    rolling = with_(
        world, status=done.status, deployment=replace(stable(v2, second), available_replicas=0)
    )
    assert condition(step(rolling, minutes=3.7), ConditionType.DEGRADED)[0] == "False"
    # Production rolled to the candidate: it serves, the canary retires to zero pods.
    world = with_(world, status=done.status, deployment=stable(v2, second))
    settled = step(world, minutes=4)
    assert settled.status.production and settled.status.production.model_version == second
    assert settled.status.canary is None
    assert scales(settled) == {"iris-canary": 0}
    assert Reason.PROMOTED in reasons(settled)


def test_errors_under_load_abort_the_canary_and_give_production_its_pods_back() -> None:
    world, _, first, second = in_step_one()
    aborted = step(with_(world, pod_metrics=pods(second, errors=30)), minutes=0.2)
    assert scales(aborted) == {"iris-canary": 0, "iris": REPLICAS}
    assert aborted.status.canary is None
    assert aborted.status.production and aborted.status.production.model_version == first
    run = record(aborted, second)
    assert (run.verdict, run.reason) == (Verdict.ROLLED_BACK, Reason.CANARY_ABORTED)
    assert "canary aborted at step 1/2 (25%): error rate 30.0% above 5.0%" in run.message
    assert run.checks[-1].metric == "canary 25%" and not run.checks[-1].passed
    assert Reason.CANARY_ABORTED in reasons(aborted)
    assert condition(aborted, ConditionType.READY) == ("False", Reason.ROLLED_BACK)
    # The next pass leaves it aborted: no retry, no promotion, nothing to move.
    after = step(with_(world, status=aborted.status, canary=canary(second, 0)), minutes=0.5)
    assert not kinds(after)
    assert record(after, second).verdict == Verdict.ROLLED_BACK


def test_unreadable_metrics_hold_the_step_with_a_condition_and_one_warning() -> None:
    world, _, _, second = in_step_one()
    blind = with_(world, pod_metrics=pods(second, problem="GET /metrics answered 404"))
    held = step(blind, minutes=5)  # long past the pause: never passed without evidence
    assert held.status.canary and held.status.canary.step == 0
    assert condition(held, ConditionType.PROMOTED) == ("False", Reason.ANALYSIS_HELD)
    assert condition(held, ConditionType.READY) == ("False", Reason.ANALYSIS_HELD)
    assert reasons(held) == [Reason.ANALYSIS_HELD]
    again = step(with_(blind, status=held.status), minutes=6)
    assert Reason.ANALYSIS_HELD not in reasons(again)


def test_a_restart_mid_step_resumes_that_step_and_redoes_no_write() -> None:
    world, _, _, second = in_step_one()
    # A new operator process sees the same world: status.canary says where it stands.
    resumed = step(with_(world, pod_metrics=pods(second)), minutes=0.5)
    assert resumed.status.canary == world.status.canary
    assert not kinds(resumed) and not reasons(resumed)


def test_a_restart_after_the_writes_but_before_the_status_redoes_the_step_idempotently() -> None:
    world, v2, first, second = candidate_passed()
    entered = step(world)
    # Killed after the writes, before the status: the same step is entered again, the
    # same numbers written; nothing is promoted.
    again = step(with_(world, deployment=stable(v2, first, replicas=3), canary=canary(second, 1)))
    assert again.status.canary == entered.status.canary
    assert not [a for a in again.actions if isinstance(a, PatchDeployment)]
    assert not scales(again)


def test_pause_only_steps_pass_on_time_without_metrics() -> None:
    world, _, _, second = in_step_one(analysis=False)
    assert step(world, minutes=0.5).status.canary.step == 0  # type: ignore[union-attr]
    passed = step(world, minutes=1.5)
    assert passed.status.canary and passed.status.canary.step == 1
    assert record(passed, second).checks[-1].bound == "pause only (no serving.analysis)"


def test_the_step_counts_from_its_pods_readiness_not_from_its_start() -> None:
    world, v2, first, second = candidate_passed()
    entered = step(world)
    starting = with_(
        world,
        status=entered.status,
        deployment=stable(v2, first, replicas=3),
        canary=canary(second, 1, ready=False),
    )
    waiting = step(starting, minutes=5)  # pods slow to start: the pause has not begun
    assert waiting.status.canary and waiting.status.canary.ready_at is None
    ready = step(with_(starting, canary=canary(second, 1), pod_metrics=pods(second)), minutes=5)
    assert ready.status.canary and ready.status.canary.step == 0  # a whole pause still to go
    assert ready.status.canary.ready_at is not None


def test_canary_pods_that_never_become_ready_abort_the_canary() -> None:
    world, _, _, second = in_step_one()
    stuck = with_(world, canary=canary(second, 1, ready=False, failed=True))
    aborted = step(stuck, minutes=11)
    assert record(aborted, second).reason == Reason.CANARY_ABORTED
    assert "not ready within the progress deadline" in record(aborted, second).message


def test_a_foreign_deployment_named_like_the_canary_is_never_written() -> None:
    """A tenant's pipeline ``iris`` must not take over another's ``iris-canary``, not even
    on the pass that would enter the first step (status.canary still empty)."""
    world, _, _, second = candidate_passed()
    foreign = replace(canary(second, 2), owned=False, template_version="someone-else")
    planned = step(with_(world, canary=foreign))
    assert not [a for a in planned.actions if getattr(a, "name", None) == "iris-canary"]
    assert not [a for a in planned.actions if isinstance(a, CreateDeployment)]
    assert not scales(planned)  # production keeps every pod
    assert planned.status.canary is None
    assert condition(planned, ConditionType.READY) == ("False", Reason.DEPLOYMENT_CONFLICT)
