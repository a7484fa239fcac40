"""A canary or a shadow never points pods at a model outside the store the spec names now.

The spec's S3 Secret is opted in for the bucket and prefix the spec names. After the spec
moves to another bucket, a model uploaded under the old one must not be fetched with the
new Secret's keys (found in review: canary and shadow took the run record's URI as it was,
while the plain rollout already went through ``planning.stored``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from tests.operator import canary_world, shadow_world
from tests.operator.builders import spec, step, with_

from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.observed import Observed
from modelpipe.planning import CreateDeployment, PatchDeployment, UpdateDeployment

OLD = "old-bucket"
NEW = {"bucket": "new-bucket", "credentialsSecret": "keys-b"}
World = Callable[..., tuple[Observed, ModelPipelineSpec, str, str]]


def _uri(version: str) -> str:
    return f"s3://{OLD}/models/default/iris/{version}/run-1/"


def _moved(world: Observed, serving: dict[str, Any]) -> Observed:
    """Every model so far uploaded to OLD; the spec now names NEW with another Secret."""
    status = world.status
    update: dict[str, Any] = {}
    if status.last_run is not None:
        update["last_run"] = status.last_run.model_copy(
            update={"model_uri": _uri(status.last_run.model_version)}
        )
    update["history"] = [
        r.model_copy(update={"model_uri": _uri(r.model_version)}) for r in status.history
    ]
    assert status.production is not None
    update["production"] = status.production.model_copy(
        update={"model_uri": _uri(status.production.model_version)}
    )
    jobs = tuple(replace(j, model_uri=_uri(j.model_version)) for j in world.jobs)
    moved = spec(dataset={"version": "v2"}, serving=serving, artifacts={"pvc": None, "s3": NEW})
    return with_(world, spec=moved, status=status.model_copy(update=update), jobs=jobs)


def _gone(
    built: tuple[Observed, ModelPipelineSpec, str, str], **deleted: None
) -> tuple[Observed, ModelPipelineSpec, str, str]:
    """Under way, and its Deployment deleted: the next pass would make it again."""
    world, *rest = built
    return (with_(world, **deleted), *rest)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("candidate_passed", "serving"),
    [
        (canary_world.candidate_passed, canary_world.canaried()),
        (shadow_world.candidate_passed, shadow_world.shadowed()),
        (lambda: _gone(canary_world.in_step_one(), canary=None), canary_world.canaried()),
        (lambda: _gone(shadow_world.in_shadow(), shadow=None), shadow_world.shadowed()),
    ],
    ids=["canary", "shadow", "mid-canary", "mid-shadow"],
)
def test_a_model_in_the_old_bucket_gets_no_canary_or_shadow(
    candidate_passed: World, serving: dict[str, Any]
) -> None:
    world, _, _, _ = candidate_passed()
    planned = step(_moved(world, serving))
    writes = [
        a
        for a in planned.actions
        if isinstance(a, CreateDeployment | UpdateDeployment | PatchDeployment)
    ]
    assert all(OLD not in repr(a) for a in writes), writes
    if candidate_passed in (canary_world.candidate_passed, shadow_world.candidate_passed):
        assert planned.status.canary is None and planned.status.shadow is None
