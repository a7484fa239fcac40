"""The executor: Events named after their decision and posted before the status closing it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.operator.builders import spec_dict
from tests.operator.fake_api import PIPELINES, Killed, cluster_with

from modelpipe.k8s.execute import execute
from modelpipe.k8s.gather import observe
from modelpipe.planning import Plan, ScaleDeployment, plan

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
EVENTS = "/api/v1/namespaces/ml/events"


def one_pass(api: object) -> None:
    observed = observe(api, namespace="ml", name="iris")  # type: ignore[arg-type]
    assert observed is not None
    execute(api, observed, plan(observed, NOW), now="2026-11-27T12:00:00Z")  # type: ignore[arg-type]


def test_a_kill_between_events_and_status_loses_no_event_and_tells_none_twice() -> None:
    rest, api = cluster_with(spec_dict())
    rest.kill_once.add(("PATCH", "status"))  # the operator dies right before the status write
    with pytest.raises(Killed):
        one_pass(api)
    one_pass(api)  # the restarted operator makes the same decision from the same status
    created = [e for e in rest.under(EVENTS) if e["reason"] == "JobCreated"]
    assert len(created) == 1  # told before the kill; the restart adopts the Job silently
    assert rest.objects[f"{PIPELINES}/iris"]["status"]["currentRun"]["jobName"].startswith("iris-")


def test_a_replayed_decision_meets_its_own_event_and_posts_no_second() -> None:
    broken = {**spec_dict(), "training": {}}  # does not parse: InvalidSpec, told once
    rest, api = cluster_with(broken)
    rest.kill_once.add(("PATCH", "status"))
    with pytest.raises(Killed):
        one_pass(api)
    one_pass(api)
    assert rest.writes[("POST", "events")] == 2  # the replay met AlreadyExists
    assert [e["reason"] for e in rest.under(EVENTS)] == ["InvalidSpec"]
    ready = rest.objects[f"{PIPELINES}/iris"]["status"]["conditions"]
    assert any(c["type"] == "Ready" and c["reason"] == "InvalidSpec" for c in ready)


def test_event_names_are_deterministic_and_new_decisions_are_told() -> None:
    rest, api = cluster_with(spec_dict())
    one_pass(api)
    names = {e["metadata"]["name"] for e in rest.under(EVENTS)}
    assert all(n.startswith("iris.") for n in names) and len(names) == 1
    one_pass(api)  # the Job is seen running: status moves on, nothing to tell
    before = dict(rest.writes)
    one_pass(api)  # nothing changed: no write at all
    assert dict(rest.writes) == before
    pipeline = rest.objects[f"{PIPELINES}/iris"]
    pipeline["spec"]["dataset"]["version"] = "v2"
    pipeline["metadata"]["generation"] = 2
    one_pass(api)  # new inputs supersede the Job: new decisions, new events
    reasons = sorted(e["reason"] for e in rest.under(EVENTS))
    assert reasons == ["JobCreated", "JobCreated", "JobSuperseded"]


def test_a_canary_split_is_a_merge_patch_of_replicas_only() -> None:
    rest, api = cluster_with(spec_dict())
    deployments = "/apis/apps/v1/namespaces/ml/deployments"
    rest.objects[f"{deployments}/iris"] = {"metadata": {"name": "iris"}, "spec": {"replicas": 4}}
    observed = observe(api, namespace="ml", name="iris")
    assert observed is not None
    split = Plan(status=observed.status, actions=(ScaleDeployment("iris", 3),))
    execute(api, observed, split, now="2026-11-27T12:00:00Z")
    assert rest.objects[f"{deployments}/iris"]["spec"] == {"replicas": 3}
    assert rest.writes[("PATCH", "iris")] == 1
