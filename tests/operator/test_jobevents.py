"""Job events that change neither phase, start nor deletion cost no reconcile pass."""

from __future__ import annotations

from typing import Any

from modelpipe.k8s.jobevents import JobEvents


def job(uid: str = "u1", **status: Any) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": "iris-1"}, "status": status}


def test_a_runs_events_cost_one_pass_per_change_that_plan_reads() -> None:
    events = JobEvents()
    lifecycle = [
        job(),  # created
        job(startTime="t", active=1),  # started: plan shows Running
        job(startTime="t", active=1, ready=0),  # pod scheduled: nothing plan reads
        job(startTime="t", active=1, ready=1),  # pod ready
        job(startTime="t", active=0, terminating=1),
        job(startTime="t", conditions=[{"type": "FailureTarget", "status": "True"}]),
        job(startTime="t", conditions=[{"type": "Failed", "status": "True"}]),  # finished
        job(startTime="t", conditions=[{"type": "Failed", "status": "True"}], terminating=0),
    ]
    passes = [events.worth_a_pass(namespace="ml", body=b, deleted=False) for b in lifecycle]
    assert passes == [True, True, False, False, False, False, True, False]


def test_deletion_and_a_new_job_of_the_same_name_always_pass() -> None:
    events = JobEvents()
    assert events.worth_a_pass(namespace="ml", body=job(), deleted=False)
    deleting = job()
    deleting["metadata"]["deletionTimestamp"] = "t"
    assert events.worth_a_pass(namespace="ml", body=deleting, deleted=False)
    assert events.worth_a_pass(namespace="ml", body=deleting, deleted=True)
    assert events.worth_a_pass(namespace="ml", body=job(uid="u2"), deleted=False)
    assert events.worth_a_pass(namespace="other", body=job(), deleted=False)
