"""plan() for the bake window (spec.serving.analysis): a promoted model is rolled back when
its live /metrics break the limits, passes when they hold, and is held when they cannot be
read. One transition per test, from observed /metrics and the clock."""

from __future__ import annotations

from tests.operator.builders import (
    baked,
    condition,
    cycle,
    deployment,
    desired_version,
    kinds,
    reasons,
    record,
    serving,
    spec,
    step,
    with_,
)
from tests.operator.builders import pod_metrics as pods
from tests.operator.builders import promoted_with_bake as promoted_second

from modelpipe.api.v1alpha1 import ConditionType, Reason, Verdict
from modelpipe.planning import PatchDeployment


def test_a_promotion_that_replaces_a_model_starts_a_bake_window() -> None:
    world, first, second = promoted_second()
    planned = step(world)
    assert planned.status.production is not None
    assert planned.status.production.model_version == second
    assert planned.status.production.replaced_version == first
    assert Reason.BAKING in reasons(planned)
    # Argo CD: Progressing (Ready=False with a reason that is not a failure).
    assert condition(planned, ConditionType.READY) == ("False", Reason.BAKING)
    assert planned.requeue_after is not None and planned.requeue_after <= 10


def test_the_first_model_has_nothing_to_roll_back_to_and_is_not_baked() -> None:
    planned = step(serving(desired_version(spec(serving=baked()))))
    assert planned.status.production is not None
    assert planned.status.production.replaced_version is None


def test_healthy_metrics_wait_for_the_window_then_pass_it() -> None:
    world, _, second = promoted_second()
    baking = cycle(world, pod_metrics=pods(second))
    waiting = step(baking, minutes=0.5)
    assert condition(waiting, ConditionType.READY) == ("False", Reason.BAKING)
    assert not kinds(waiting)
    passed = step(baking, minutes=1.5)
    assert passed.status.production is not None
    assert passed.status.production.replaced_version is None
    assert Reason.ANALYSIS_PASSED in reasons(passed)
    assert condition(passed, ConditionType.READY) == ("True", Reason.SERVING)
    row = record(passed, second).checks[-1]
    assert (row.gate, row.passed) == ("analysis", True)


def test_errors_under_load_roll_the_promoted_model_back_to_the_one_it_replaced() -> None:
    world, first, second = promoted_second()
    failing = cycle(world, pod_metrics=pods(second, errors=30))
    aborted = step(failing, minutes=0.2)  # mid-window: enough evidence is enough
    assert aborted.status.production is not None
    assert aborted.status.production.model_version == first
    assert Reason.ANALYSIS_FAILED in reasons(aborted)
    run = record(aborted, second)
    assert (run.verdict, run.reason) == (Verdict.ROLLED_BACK, Reason.ANALYSIS_FAILED)
    assert "error rate 30.0% above 5.0%" in run.message
    assert run.checks[-1].gate == "analysis" and not run.checks[-1].passed
    assert condition(aborted, ConditionType.READY) == ("False", Reason.ROLLED_BACK)
    # The next pass moves the Deployment back; the rolled-back model is not retried by itself.
    back = step(with_(failing, status=aborted.status), minutes=0.3)
    patches = [a for a in back.actions if isinstance(a, PatchDeployment)]
    assert [p.version for p in patches] == [first]
    settled = with_(failing, status=back.status, deployment=deployment(first), pod_metrics=())
    final = step(settled, minutes=1)
    assert final.status.production is not None
    assert final.status.production.model_version == first
    assert not kinds(final) and Reason.PROMOTED not in reasons(final)


def test_unreadable_metrics_hold_the_window_and_never_pass_it() -> None:
    world, _, second = promoted_second()
    broken = cycle(world, pod_metrics=pods(second, problem="GET /metrics answered 404"))
    held = step(broken, minutes=100)
    assert held.status.production is not None
    assert held.status.production.replaced_version is not None  # still baking
    assert condition(held, ConditionType.READY) == ("False", Reason.ANALYSIS_HELD)
    assert reasons(held).count(Reason.ANALYSIS_HELD) == 1
    again = step(with_(broken, status=held.status), minutes=101)
    assert Reason.ANALYSIS_HELD not in reasons(again)  # warned once, still held


def test_a_restarted_operator_resumes_the_window_from_status() -> None:
    """The window's start is production.promotedAt: a new process judges from the same point."""
    world, _, second = promoted_second()
    started = step(world)
    resumed = with_(world, status=started.status, pod_metrics=pods(second, errors=30))
    assert Reason.ANALYSIS_FAILED in reasons(step(resumed, minutes=0.5))
