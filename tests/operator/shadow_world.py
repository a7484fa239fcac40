"""Worlds for the shadow stories (planning.shadow): a model serves on two pods, a better one
passed the gate, spec.serving.strategy is Shadow (60 s, 90% agreement)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.operator.builders import (
    ANALYSIS,
    FAST_BUCKETS,
    NAME,
    Scenario,
    cycle,
    deployment,
    desired_version,
    job,
    meta,
    result,
    serving,
    spec,
    step,
    with_,
)

from modelpipe import manifests
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.manifests.shadow import shadow_name
from modelpipe.observed import JobPhase, Observed, PodMetrics

REPLICAS = 2
TRIAL = {"durationSeconds": 60, "minAgreement": 0.9}


def shadowed(*, analysis: bool = True, **serving_: Any) -> dict[str, Any]:
    """spec.serving with a shadow on two pods (and live analysis)."""
    found: dict[str, Any] = {
        "template": {},
        "replicas": REPLICAS,
        "strategy": {"type": "Shadow", "shadow": TRIAL},
    }
    if analysis:
        found["analysis"] = dict(ANALYSIS)
    return found | serving_


def stable(the_spec: ModelPipelineSpec, version: str) -> Any:
    """The pipeline's own Deployment serving ``version`` on its ready pods."""
    hashed = manifests.serving_hash(meta=meta(), spec=the_spec, mirror=True)
    return deployment(version, replicas=REPLICAS, serving_hash=hashed)


def shadow(version: str, *, ready: bool = True, failed: bool = False, owned: bool = True) -> Any:
    """The shadow Deployment at two pods of ``version``."""
    base = deployment(version, replicas=REPLICAS, ready=ready, failed=failed)
    return replace(base, name=shadow_name(NAME), owned=owned)


def metrics(
    production: str, candidate: str, *, agreed: float, disagreed: float, errors: float = 0
) -> tuple[PodMetrics, ...]:
    """Production's pod (counting the agreement) and the shadow's (100 requests)."""
    return (
        PodMetrics(
            pod=f"{NAME}-a",
            version=production,
            requests=100,
            rows=100,
            latency_buckets=FAST_BUCKETS,
            agreement=((candidate, agreed, disagreed),),
        ),
        PodMetrics(
            pod=f"{NAME}-shadow-a",
            version=candidate,
            requests=100,
            errors=errors,
            rows=100,
            latency_buckets=FAST_BUCKETS,
        ),
    )


def candidate_passed(
    *, analysis: bool = True, **serving_: Any
) -> tuple[Observed, ModelPipelineSpec, str, str]:
    """``first`` serves on two pods; ``second``'s Job succeeded and passes the gate now."""
    v1 = spec(serving=shadowed(analysis=analysis, **serving_))
    v2 = spec(dataset={"version": "v2"}, serving=shadowed(analysis=analysis, **serving_))
    first, second = desired_version(v1), desired_version(v2)
    world = with_(
        serving(first),
        spec=v1,
        deployment=stable(v1, first),
        shadow_service_exists=True,  # claimed with the first model (planning.shadow)
        shadow_service_owned=True,
    )
    world = cycle(cycle(world), spec=v2)
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    return world, v2, first, second


def in_shadow(**serving_: Any) -> tuple[Observed, ModelPipelineSpec, str, str]:
    """The shadow was entered; its pods are ready (seen so at NOW: the duration counts)."""
    world, v2, first, second = candidate_passed(**serving_)
    world = cycle(world, shadow=shadow(second))
    world = with_(world, pod_metrics=metrics(first, second, agreed=0, disagreed=0))
    return cycle(world), v2, first, second


def scenario_shadow_running() -> Scenario:
    """A shadow runs: the candidate agrees with production so far."""
    world, _, first, second = in_shadow()
    world = with_(world, pod_metrics=metrics(first, second, agreed=95, disagreed=5))
    return world, step(world, minutes=0.5)


def scenario_shadow_rejected() -> Scenario:
    """The candidate disagreed with production in shadow: rejected."""
    world, _, first, second = in_shadow()
    world = with_(world, pod_metrics=metrics(first, second, agreed=40, disagreed=60))
    return world, step(world, minutes=0.5)
