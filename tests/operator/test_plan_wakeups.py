"""plan()'s wake-ups: every check asks for its own, the plan keeps the earliest."""

from __future__ import annotations

from datetime import timedelta

from tests.operator.builders import NOW, observe, spec, step, with_

from modelpipe.inputs import Resolved
from modelpipe.planning import CreateJob

GIT = {"revision": None, "git": {"url": "https://git.example/iris.git", "ref": "main"}}


def test_a_blocker_without_a_wake_up_never_erases_a_debounce_wake_up() -> None:
    """Held by the quiet period (due in 60 s); an unknown pinned version blocks with no timer."""
    debounced_and_pinned = spec(
        code=GIT,
        triggers={"quietPeriod": "2m"},
        serving={"template": {}, "pinnedVersion": "deadbeef"},
    )
    world = with_(
        observe(debounced_and_pinned),
        resolved=Resolved(code_revision="a" * 40),
        source_changes=(NOW,),
    )
    held = step(world, minutes=1)
    assert not any(isinstance(a, CreateJob) for a in held.actions)
    assert held.requeue_after == 60


def test_the_earliest_of_several_wake_ups_wins() -> None:
    """An hourly schedule (next fire in 60 min) and a 2 min quiet period: 1 min remains."""
    both = spec(code=GIT, triggers={"quietPeriod": "2m"}, schedule="0 * * * *")
    world = with_(observe(both), resolved=Resolved(code_revision="a" * 40), source_changes=(NOW,))
    created = NOW - timedelta(hours=3)
    world = with_(
        world,
        metadata=world.metadata.model_copy(update={"creation_timestamp": created.isoformat()}),
    )
    assert step(world, minutes=1).requeue_after == 60
