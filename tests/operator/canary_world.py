"""Worlds for the canary stories (planning.canary): a model serves on four pods, a better
one passed the gate, spec.serving.strategy is Canary in two steps (25%, then 50%)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.operator.builders import (
    ANALYSIS,
    NAME,
    Scenario,
    cycle,
    deployment,
    desired_version,
    job,
    meta,
    pod_metrics,
    result,
    serving,
    spec,
    step,
    with_,
)

from modelpipe import manifests
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.manifests.canary import canary_name
from modelpipe.observed import JobPhase, Observed

STEPS = [{"weight": 25, "pauseSeconds": 60}, {"weight": 50, "pauseSeconds": 60}]
REPLICAS = 4


def canaried(*, analysis: bool = True, **serving_: Any) -> dict[str, Any]:
    """spec.serving with a two-step canary on four pods (and live analysis)."""
    found: dict[str, Any] = {
        "template": {},
        "replicas": REPLICAS,
        "strategy": {"type": "Canary", "steps": STEPS},
    }
    if analysis:
        found["analysis"] = dict(ANALYSIS)
    return found | serving_


def stable(the_spec: ModelPipelineSpec, version: str, *, replicas: int = REPLICAS) -> Any:
    """The pipeline's own Deployment serving ``version`` on ``replicas`` ready pods."""
    hashed = manifests.serving_hash(meta=meta(), spec=the_spec)
    return deployment(version, replicas=replicas, serving_hash=hashed)


def canary(version: str, replicas: int, *, ready: bool = True, failed: bool = False) -> Any:
    """The canary Deployment at ``replicas`` pods of ``version``."""
    base = deployment(version, replicas=replicas, ready=ready, failed=failed)
    return replace(base, name=canary_name(NAME))


def candidate_passed(
    *, analysis: bool = True, **serving_: Any
) -> tuple[Observed, ModelPipelineSpec, str, str]:
    """``first`` serves on four pods; ``second``'s Job succeeded and passes the gate now."""
    v1 = spec(serving=canaried(analysis=analysis, **serving_))
    v2 = spec(dataset={"version": "v2"}, serving=canaried(analysis=analysis, **serving_))
    first, second = desired_version(v1), desired_version(v2)
    world = with_(serving(first), spec=v1, deployment=stable(v1, first))
    world = cycle(cycle(world), spec=v2)
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    return world, v2, first, second


def in_step_one(**serving_: Any) -> tuple[Observed, ModelPipelineSpec, str, str]:
    """The canary's first step was entered; its Deployments stand at 3 + 1 ready pods."""
    world, v2, first, second = candidate_passed(**serving_)
    world = cycle(world, deployment=stable(v2, first, replicas=3), canary=canary(second, 1))
    world = with_(world, pod_metrics=pod_metrics(second))
    return cycle(world), v2, first, second  # its pods were seen ready at NOW: the step counts


def scenario_canary_step() -> Scenario:
    """A canary step runs: its live metrics are healthy so far."""
    world, _, _, second = in_step_one()
    world = with_(world, pod_metrics=pod_metrics(second))
    return world, step(world, minutes=0.5)


def scenario_canary_aborted() -> Scenario:
    """The candidate errored under load in its first canary step: aborted."""
    world, _, _, second = in_step_one()
    world = with_(world, pod_metrics=pod_metrics(second, errors=30))
    return world, step(world, minutes=0.5)
