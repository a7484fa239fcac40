"""DeploymentConflict: the operator writes only serving objects that are the pipeline's to write.

The planner half of issue 16's "taking over an unrelated Deployment"; the attack itself,
as a tenant on the local cluster, is tests/security/test_deployment_takeover.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tests.operator.builders import cycle, deployment, job, observe, result, spec, step, with_

from modelpipe.api.v1alpha1 import ConditionType, Reason
from modelpipe.observed import JobPhase, Observed, ObservedDeployment
from modelpipe.planning import Plan
from modelpipe.planning.ownership import serving_conflict

TEMPLATE: dict[str, Any] = {"template": {}}
NAMED: dict[str, Any] = {"deploymentName": "web"}


def foreign(version: str | None = "0000beef", **changes: Any) -> ObservedDeployment:
    """A Deployment the pipeline neither controls nor was opted in to."""
    return replace(deployment(version), **{"owned": False, "opted_in": False, **changes})


def passed(
    serving_spec: dict[str, Any], found: ObservedDeployment | None, **world: Any
) -> Observed:
    """A run for this spec passed its gate; the serving objects are as given."""
    the_spec = spec(serving=serving_spec)
    first = step(observe(the_spec))
    version = first.status.inputs.model_version if first.status.inputs else ""
    done = (job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95})),)
    trained = cycle(observe(the_spec), jobs=done)
    return with_(trained, deployment=found, **world)


def ready(planned: Plan) -> tuple[str, str, str]:
    found = next(c for c in planned.status.conditions if c.type == ConditionType.READY)
    return found.status, found.reason, found.message


@pytest.mark.parametrize(
    ("serving_spec", "found", "world", "conflict"),
    [
        (TEMPLATE, None, {}, None),
        (TEMPLATE, deployment("v1"), {}, None),
        (TEMPLATE, foreign(), {}, "Deployment iris already exists and is not owned"),
        (TEMPLATE, foreign(opted_in=True), {}, "Deployment iris already exists"),
        (TEMPLATE, None, {"service_exists": True}, "Service iris already exists"),
        (TEMPLATE, deployment("v1"), {"service_owned": False}, "Service iris already exists"),
        (NAMED, None, {}, None),  # DeploymentNotFound, a separate check
        (NAMED, foreign(opted_in=True), {}, None),
        (NAMED, foreign(), {}, "annotate it modelpipe.io/pipeline=iris"),
        (NAMED, foreign(owned=True), {}, "has not opted in"),
    ],
    ids=[
        "template-nothing-yet",
        "template-owned",
        "template-foreign-deployment",
        "template-annotation-is-not-ownership",
        "template-foreign-service",
        "template-owned-deployment-foreign-service",
        "named-missing",
        "named-opted-in",
        "named-not-opted-in",
        "named-owned-but-not-opted-in",
    ],
)
def test_serving_conflict(
    serving_spec: dict[str, Any],
    found: ObservedDeployment | None,
    world: dict[str, Any],
    conflict: str | None,
) -> None:
    observed = with_(observe(spec(serving=serving_spec)), deployment=found, **world)
    message = serving_conflict(observed)
    if conflict is None:
        assert message is None
    else:
        assert message is not None and conflict in message


@pytest.mark.parametrize(
    ("serving_spec", "world"),
    [(TEMPLATE, {}), (NAMED, {}), (TEMPLATE, {"service_exists": True})],
    ids=["foreign-deployment", "not-opted-in", "foreign-service"],
)
def test_a_conflict_writes_nothing_and_warns_once(
    serving_spec: dict[str, Any], world: dict[str, Any]
) -> None:
    found = None if world else foreign()
    observed = passed(serving_spec, found, service_owned=False, **world)
    planned = step(observed)
    assert planned.actions == ()  # no create, no label, no env, no rollout
    status, reason, message = ready(planned)
    assert (status, reason) == ("False", Reason.DEPLOYMENT_CONFLICT)
    assert "the operator changed nothing" in message
    promoted = next(c for c in planned.status.conditions if c.type == ConditionType.PROMOTED)
    assert (promoted.status, promoted.reason) == ("False", Reason.DEPLOYMENT_CONFLICT)
    assert planned.status.production is None
    assert [e.reason for e in planned.events if e.type == "Warning"] == [Reason.DEPLOYMENT_CONFLICT]
    assert planned.requeue_after  # the fix is an edit of an object the operator does not watch
    again = step(with_(observed, status=planned.status))
    assert again.actions == () and again.events == ()


def test_a_conflict_is_reported_before_any_model_exists() -> None:
    """A colliding name is said at once, not after a training run."""
    planned = step(with_(observe(spec(serving=TEMPLATE)), deployment=foreign()))
    assert ready(planned)[1] == Reason.DEPLOYMENT_CONFLICT
    assert [type(a).__name__ for a in planned.actions] == ["CreateJob"]


def test_once_resolved_the_model_is_served() -> None:
    blocked = passed(NAMED, foreign())
    planned = step(blocked)
    opted_in = step(with_(blocked, status=planned.status, deployment=foreign(opted_in=True)))
    assert [type(a).__name__ for a in opted_in.actions] == ["PatchDeployment"]
    assert ready(opted_in)[1] != Reason.DEPLOYMENT_CONFLICT
