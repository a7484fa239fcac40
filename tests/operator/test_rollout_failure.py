"""A missed rollout deadline says whether the new pods crash or are slow to start (issue 11.13)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tests.operator.builders import (
    cycle,
    deployment,
    desired_version,
    job,
    result,
    serving,
    step,
    with_,
)
from tests.operator.builders import spec as make_spec

from modelpipe.api.v1alpha1 import Reason
from modelpipe.k8s.bodies import PodBody, parse_all
from modelpipe.k8s.rollout import RolloutPods, summarise_pods
from modelpipe.layout import MODEL_VERSION_ANNOTATION
from modelpipe.observed import JobPhase, ObservedDeployment


def stuck_rollout(**trouble: Any) -> tuple[Any, ObservedDeployment]:
    world = serving(desired_version())
    new_spec = make_spec(dataset={"version": "v2"})
    second = desired_version(new_spec)
    world = cycle(with_(world, **{"spec": new_spec}))
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    world = cycle(world, deployment=deployment(second, ready=False, old_pods=1))
    stuck = replace(deployment(second, ready=False, failed=True, old_pods=1), **trouble)
    return world, stuck


@pytest.mark.parametrize(
    ("trouble", "says", "never"),
    [
        ({}, "slow to start, not crashing", "crashing ("),
        ({"restarts": 4, "crash": "Error, exit code 6"}, "kept crashing (4 restarts", "slow"),
        ({"crash": "CrashLoopBackOff"}, "last: CrashLoopBackOff", "slow"),
    ],
)
def test_rollback_message_tells_crashing_from_slow(
    trouble: dict[str, Any], says: str, never: str
) -> None:
    world, stuck = stuck_rollout(**trouble)
    planned = step(with_(world, deployment=stuck))
    assert planned.status.last_run is not None
    assert says in planned.status.last_run.message
    assert never not in planned.status.last_run.message
    failed = [e for e in planned.events if e.reason == Reason.ROLLOUT_FAILED]
    assert len(failed) == 1 and says in failed[0].message


def pod(version: str, *, restarts: int = 0, **state: Any) -> dict[str, Any]:
    return {
        "metadata": {"annotations": {MODEL_VERSION_ANNOTATION: version}},
        "status": {"containerStatuses": [{"name": "serve", "restartCount": restarts, **state}]},
    }


def with_init(restarts: int = 0, **state: Any) -> dict[str, Any]:
    """A new pod whose fetch-model init container is in ``state``; serve still waits."""
    found = pod("new", state={"waiting": {"reason": "PodInitializing"}})
    init = {"name": "fetch-model", "restartCount": restarts, **state}
    found["status"]["initContainerStatuses"] = [init]
    return found


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([], RolloutPods()),
        ([pod("new", state={"running": {}})], RolloutPods()),
        (
            [pod("new", restarts=2, lastState={"terminated": {"reason": "Error", "exitCode": 6}})],
            RolloutPods(restarts=2, crash="Error, exit code 6"),
        ),
        (
            [pod("new", restarts=3, state={"waiting": {"reason": "CrashLoopBackOff"}})],
            RolloutPods(restarts=3, crash="CrashLoopBackOff"),
        ),
        (
            [pod("new", state={"waiting": {"reason": "ContainerCreating"}})],
            RolloutPods(),
        ),
        # The old template's pods (production) do not count.
        (
            [pod("old", restarts=9, state={"waiting": {"reason": "CrashLoopBackOff"}})],
            RolloutPods(),
        ),
        (
            [{**pod("new", restarts=5), "metadata": {"deletionTimestamp": "x"}}],
            RolloutPods(),
        ),
        # A model that fails its download's verification (artifacts.s3): the init container.
        (
            [with_init(restarts=3, lastState={"terminated": {"reason": "Error", "exitCode": 5}})],
            RolloutPods(restarts=3, crash="init container fetch-model: Error, exit code 5"),
        ),
        # A download that finished is not a crash: the server is only slow to start.
        (
            [with_init(state={"terminated": {"reason": "Completed", "exitCode": 0}})],
            RolloutPods(),
        ),
    ],
)
def test_summarise_pods(pods: list[dict[str, Any]], expected: RolloutPods) -> None:
    assert summarise_pods(parse_all(PodBody, pods), version="new") == expected
