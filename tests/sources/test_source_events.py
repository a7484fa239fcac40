"""Events about followed sources: each change, failure and recovery told once."""

from __future__ import annotations

from tests.operator.builders import cycle, observe, step, with_
from tests.sources.test_plan_sources import FOLLOWING, rows

from modelpipe.api.sources import ErrorReason, SourceError
from modelpipe.api.v1alpha1 import Reason
from modelpipe.inputs import Resolved
from modelpipe.observed import Observed

A, B = "a" * 40, "b" * 40
DOWN = SourceError(ErrorReason.UNREACHABLE, "cannot reach 127.0.0.1:9: connection refused")


def events(observed: Observed) -> list[tuple[str, str, str]]:
    return [(e.type.value, e.reason.value, e.message) for e in step(observed).events]


def about_sources(observed: Observed) -> list[tuple[str, str, str]]:
    source_reasons = {Reason.SOURCE_CHANGED, Reason.SOURCE_FAILED, Reason.SOURCE_RECOVERED}
    return [e for e in events(observed) if e[1] in source_reasons]


def seen(sha: str) -> Observed:
    return with_(observe(FOLLOWING), resolved=Resolved(code_revision=sha), sources=rows(sha))


def test_first_resolution_is_announced() -> None:
    assert about_sources(seen(A)) == [
        ("Normal", "SourceChanged", f"code (https://git.example/iris.git@main): resolved to {A}")
    ]


def test_a_new_commit_is_announced_once_with_old_and_new() -> None:
    pushed = cycle(seen(A), resolved=Resolved(code_revision=B), sources=rows(B))
    assert about_sources(pushed) == [
        ("Normal", "SourceChanged", f"code (https://git.example/iris.git@main): {A} -> {B}")
    ]
    assert about_sources(cycle(pushed)) == []  # the next pass: nothing new


def test_no_change_no_event() -> None:
    assert about_sources(cycle(seen(A))) == []


def test_the_first_answer_after_a_restart_is_not_news() -> None:
    restarted = cycle(seen(A), resolved=None, sources=rows(None))
    assert about_sources(restarted) == []
    answered = cycle(restarted, resolved=Resolved(code_revision=A), sources=rows(A))
    assert about_sources(answered) == []


def test_failure_is_announced_once_and_recovery_too() -> None:
    down = cycle(seen(A), sources=rows(A, DOWN, failures=1))
    ((kind, reason, message),) = about_sources(down)
    assert (kind, reason) == ("Warning", "SourceFailed")
    assert "Unreachable: cannot reach" in message and f"keeping {A}, nothing runs" in message
    still_down = cycle(down, sources=rows(A, DOWN, failures=5))
    assert about_sources(still_down) == []
    back = cycle(still_down, sources=rows(A))
    assert about_sources(back) == [
        (
            "Normal",
            "SourceRecovered",
            "code (https://git.example/iris.git@main): checks succeed again after 5 failures",
        )
    ]


def test_pinned_pipelines_tell_nothing_about_sources() -> None:
    assert about_sources(observe()) == []
