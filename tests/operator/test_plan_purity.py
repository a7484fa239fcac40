"""The planner changes nothing it is given: each check returns its part of the plan.

``builders.step`` also compares every observation it plans from with a deep copy, so
every plan() test is a purity test too; these state the claim on its own.
"""

from __future__ import annotations

import copy

import pytest
from tests.operator.builders import (
    NOW,
    cycle,
    desired_version,
    scenario_candidate_rolled_back,
    scenario_rolled_back_in_bake,
    scenario_rolling_out_pinned_version,
    spec,
    trained,
    with_,
)

from modelpipe.api.v1alpha1 import Verdict, all_runs
from modelpipe.planning import plan
from modelpipe.planning.clock import rfc3339
from modelpipe.planning.draft import NOTHING, Decided, Part, wake_after
from modelpipe.planning.target import choose_target


def test_choose_target_leaves_the_history_it_was_given_unchanged() -> None:
    version = desired_version()
    world = cycle(trained(version))  # its run passed the gate
    pinned = spec(serving={"template": {}, "pinnedVersion": "deadbeef"})
    status = world.status.model_copy(update={"history": all_runs(world.status)})
    assert status.history[0].verdict == Verdict.PASSED
    before = copy.deepcopy(status)
    decided = Decided(obs=with_(world, spec=pinned), spec=pinned, now=rfc3339(NOW), status=status)
    _, part = choose_target(decided)
    assert status == before
    assert part.status is not None and part.status.history[0].verdict == Verdict.HELD


def test_plan_leaves_the_observation_unchanged() -> None:
    for scenario in (
        scenario_candidate_rolled_back,
        scenario_rolled_back_in_bake,
        scenario_rolling_out_pinned_version,
    ):
        world, _ = scenario()
        before = copy.deepcopy(world)
        plan(world, NOW)
        assert world == before


@pytest.mark.parametrize(
    ("wakes", "expected"),
    [
        ((), None),
        ((30.0,), 30.0),
        ((60.0, 2.0, 30.0), 2.0),
        ((None, 5.0, None), 5.0),
        ((-3.0, 10.0), 0.0),
    ],
)
def test_parts_keep_the_earliest_wake_up(
    wakes: tuple[float | None, ...], expected: float | None
) -> None:
    total = NOTHING
    for wake in wakes:
        total += NOTHING if wake is None else wake_after(wake)
    assert total.wake == expected
    assert (Part(hold="later") + total).wake == expected  # a part without one loses nothing
