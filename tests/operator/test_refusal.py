"""Writes the API server refuses as invalid: exponential backoff, one condition, no storm."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.operator.builders import spec_dict
from tests.operator.fake_api import PIPELINES, T0, FakeClock, FakeRest, FakeTimer, cluster_with

from modelpipe.k8s.reconciler import Reconciler
from modelpipe.k8s.rest import ApiError
from modelpipe.planning.refusal import BACKOFF_MAX, after_refusal

INVALID = ApiError(
    422, "Invalid", 'Job.batch "x" is invalid: spec.template...cpu: Invalid value: "-1"'
)


def refusing_cluster() -> tuple[FakeRest, Reconciler, FakeClock]:
    rest, api = cluster_with(spec_dict())
    rest.refuse[("POST", "jobs")] = INVALID
    clock = FakeClock()
    return rest, Reconciler(api, clock=clock, timer=FakeTimer), clock


def ready(rest: FakeRest) -> dict[str, Any]:
    conditions = rest.objects[f"{PIPELINES}/iris"]["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "Ready")


def test_backoff_doubles_is_bounded_and_a_new_generation_starts_over() -> None:
    first = after_refusal(None, write="create Job x", message="m", generation=1, now=T0)
    assert (first.attempts, first.retry_at - T0) == (1, timedelta(seconds=30))
    again = after_refusal(first, write="create Job x", message="m", generation=1, now=T0)
    assert (again.attempts, again.retry_at - T0) == (2, timedelta(seconds=60))
    late = first
    for _ in range(20):
        late = after_refusal(late, write="create Job x", message="m", generation=1, now=T0)
    assert late.retry_at - T0 == timedelta(seconds=BACKOFF_MAX)
    edited = after_refusal(late, write="create Job x", message="m", generation=2, now=T0)
    assert edited.attempts == 1


def test_a_refused_write_becomes_one_condition_and_one_event() -> None:
    rest, reconciler, _ = refusing_cluster()
    reconciler.reconcile("ml", "iris")
    condition = ready(rest)
    assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
    assert "refused to create Job iris-" in condition["message"]
    assert 'Invalid value: "-1"' in condition["message"]
    events = rest.under("/api/v1/namespaces/ml/events")
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "InvalidSpec")]
    assert "currentRun" not in rest.objects[f"{PIPELINES}/iris"]["status"]  # no Job claimed


def test_a_broken_pipeline_costs_few_writes_over_ten_minutes() -> None:
    """A pass every 5 s for 10 min (watch events, timers): the Job POST backs off."""
    rest, reconciler, clock = refusing_cluster()
    for second in range(0, 600, 5):
        clock.time = T0 + timedelta(seconds=second)
        reconciler.reconcile("ml", "iris")
    # Attempts at 0, 30, 90, 210 and 450 s; one status write each (the next attempt's
    # time), one event in all; the held passes in between write nothing. Each attempt
    # first writes the run's config: created once, brought up to date on the retries.
    assert rest.writes[("POST", "jobs")] == 5
    assert rest.writes[("PATCH", "status")] == 5
    assert rest.writes[("POST", "events")] == 1
    assert rest.writes[("POST", "configmaps")] == 5
    refreshed = {key: n for key, n in rest.writes.items() if key[1].startswith("iris-")}
    assert list(refreshed.values()) == [4] and all(v == "PATCH" for v, _ in refreshed)
    assert sum(rest.writes.values()) == 20


def test_a_spec_edit_retries_at_once_and_success_clears_the_condition() -> None:
    rest, reconciler, clock = refusing_cluster()
    reconciler.reconcile("ml", "iris")
    del rest.refuse[("POST", "jobs")]
    clock.time = T0 + timedelta(seconds=5)
    reconciler.reconcile("ml", "iris")  # not due yet, same generation: held
    assert rest.writes[("POST", "jobs")] == 1
    pipeline = rest.objects[f"{PIPELINES}/iris"]
    pipeline["spec"]["training"]["resources"] = {"limits": {"cpu": "1"}}
    pipeline["metadata"]["generation"] = 2
    reconciler.reconcile("ml", "iris")
    assert rest.writes[("POST", "jobs")] == 2
    assert ready(rest)["reason"] == "JobRunning"
