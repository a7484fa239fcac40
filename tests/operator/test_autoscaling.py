"""spec.serving.autoscaling: the HPA's manifest, its validation, and the plan that keeps it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from tests.operator.builders import (
    deployment,
    desired_version,
    kinds,
    meta,
    reasons,
    serving,
    spec,
    spec_dict,
    step,
    trained,
    with_,
)
from tests.operator.fake_api import cluster_with

from modelpipe.api.v1alpha1 import Reason
from modelpipe.k8s.execute import execute
from modelpipe.k8s.gather import observe as observe_world
from modelpipe.layout import SERVING_HASH_ANNOTATION
from modelpipe.manifests import serving_deployment, serving_hash, template_patch
from modelpipe.manifests.autoscaling import autoscaler_hash, serving_autoscaler
from modelpipe.observed import ObservedAutoscaler
from modelpipe.planning import (
    CreateAutoscaler,
    CreateDeployment,
    DeleteAutoscaler,
    Plan,
    UpdateAutoscaler,
    UpdateDeployment,
)

CPU = {"requests": {"cpu": "250m", "memory": "256Mi"}}
SCALING = {"minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}


def scaled(template: dict[str, Any] | None = None, **scaling: Any) -> dict[str, Any]:
    return {
        "template": {"resources": CPU} if template is None else template,
        "autoscaling": {**SCALING, **scaling},
    }


def test_the_autoscaler_targets_the_owned_deployment_and_is_owned_like_it() -> None:
    hpa = serving_autoscaler(meta=meta(), spec=spec(serving=scaled()))
    assert hpa is not None
    made = serving_deployment(meta=meta(), spec=spec(), version="v1", model_dir="/m")
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["kind"] == "HorizontalPodAutoscaler"
    assert hpa["metadata"]["name"] == made["metadata"]["name"] == "iris"
    assert hpa["metadata"]["labels"] == made["metadata"]["labels"]
    assert hpa["metadata"]["ownerReferences"] == made["metadata"]["ownerReferences"]
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "iris"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            }
        ],
    }


def test_memory_target_alone_or_with_cpu() -> None:
    memory = spec(serving=scaled(None, targetCPUUtilizationPercentage=None, **{
        "targetMemoryUtilizationPercentage": 80}))  # fmt: skip
    both = spec(serving=scaled(targetMemoryUtilizationPercentage=60))
    names = [
        [m["resource"]["name"] for m in hpa["spec"]["metrics"]]
        for hpa in (serving_autoscaler(meta=meta(), spec=s) for s in (memory, both))
        if hpa is not None
    ]
    assert names == [["memory"], ["cpu", "memory"]]


def test_no_autoscaler_without_autoscaling() -> None:
    assert serving_autoscaler(meta=meta(), spec=spec()) is None


def test_the_deployment_leaves_replicas_to_the_autoscaler() -> None:
    """No replicas in the created Deployment nor in a serving patch: nothing to fight over."""
    with_hpa, without = spec(serving=scaled()), spec(serving={"template": {"resources": CPU}})
    made = serving_deployment(meta=meta(), spec=with_hpa, version="v1", model_dir="/m")
    assert "replicas" not in made["spec"]
    patch = template_patch(meta=meta(), spec=with_hpa, version="v1", model_dir="/m")
    assert "replicas" not in patch["spec"]
    back = template_patch(meta=meta(), spec=without, version="v1", model_dir="/m")
    assert back["spec"]["replicas"] == 1  # autoscaling dropped: serving.replicas again
    # Other bounds or targets change the autoscaler only, never the Deployment.
    wider = spec(serving=scaled(maxReplicas=9, targetCPUUtilizationPercentage=50))
    assert serving_hash(meta=meta(), spec=wider) == serving_hash(meta=meta(), spec=with_hpa)


@pytest.mark.parametrize(
    ("serving_spec", "message"),
    [
        (scaled(minReplicas=6), "minReplicas must be less than or equal to maxReplicas"),
        (scaled(targetCPUUtilizationPercentage=None), "needs targetCPUUtilizationPercentage"),
        (scaled(template={}), "set serving.template.resources.requests.cpu"),
        (
            scaled(targetMemoryUtilizationPercentage=75, template={
                "resources": {"requests": {"cpu": "1"}}}),
            "set serving.template.resources.requests.memory",
        ),
        ({**scaled(), "replicas": 3}, "remove serving.replicas"),
        (
            {"deploymentName": "web", "autoscaling": SCALING},
            "serving.autoscaling needs serving.template",
        ),
        (scaled(maxReplicas=101), "less than or equal to 100"),
        (scaled(minReplicas=0), "greater than or equal to 1"),
    ],
)  # fmt: skip
def test_invalid_autoscaling_is_refused_saying_what_to_fix(
    serving_spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(serving=serving_spec)


def _owned(the_spec: Any, *, hash_: str | None = None) -> ObservedAutoscaler:
    hpa = serving_autoscaler(meta=meta(), spec=the_spec)
    current = autoscaler_hash(hpa) if hpa is not None else "old"
    return ObservedAutoscaler(uid="hpa-uid", owned=True, serving_hash=hash_ or current)


def test_first_deployment_comes_with_its_autoscaler() -> None:
    the_spec = spec(serving=scaled())
    world = with_(trained(desired_version(the_spec)), spec=the_spec)
    planned = step(world)
    assert kinds(planned) == ["CreateDeployment", "CreateService", "CreateAutoscaler"]
    created, hpa = planned.actions[0], planned.actions[2]
    assert isinstance(created, CreateDeployment) and isinstance(hpa, CreateAutoscaler)
    assert "replicas" not in created.manifest["spec"]
    assert hpa.manifest["spec"]["scaleTargetRef"]["name"] == created.manifest["metadata"]["name"]


def _served(the_spec: Any, **changes: Any) -> Any:
    """A serving pipeline whose owned Deployment matches ``the_spec``."""
    version = desired_version()
    made = deployment(version, serving_hash=serving_hash(meta=meta(), spec=the_spec))
    return with_(serving(version), spec=the_spec, deployment=made, **changes)


def test_autoscaling_added_to_a_serving_pipeline_creates_the_hpa_and_frees_replicas() -> None:
    version = desired_version()
    the_spec = spec(serving=scaled())
    planned = step(with_(serving(version), spec=the_spec))
    assert kinds(planned) == ["UpdateDeployment", "CreateAutoscaler"]
    update = planned.actions[0]
    assert isinstance(update, UpdateDeployment) and "replicas" not in update.patch["spec"]
    assert Reason.SERVING_UPDATED in reasons(planned)


def test_an_autoscaler_as_the_spec_asks_is_left_alone() -> None:
    the_spec = spec(serving=scaled())
    planned = step(_served(the_spec, autoscaler=_owned(the_spec)))
    assert planned.actions == () and planned.events == ()


def test_an_edited_autoscaling_patches_the_hpa_only() -> None:
    before, after = spec(serving=scaled()), spec(serving=scaled(maxReplicas=8))
    planned = step(_served(after, autoscaler=_owned(before)))
    assert kinds(planned) == ["UpdateAutoscaler"]
    (update,) = planned.actions
    assert isinstance(update, UpdateAutoscaler) and update.name == "iris"
    assert update.patch["spec"]["maxReplicas"] == 8
    assert update.patch["metadata"]["annotations"][SERVING_HASH_ANNOTATION] == autoscaler_hash(
        serving_autoscaler(meta=meta(), spec=after) or {}
    )
    assert any("2-8 replicas, cpu 70%" in e.message for e in planned.events)


def test_dropped_autoscaling_deletes_the_owned_hpa_by_uid() -> None:
    plain = spec(serving={"template": {"resources": CPU}})
    planned = step(_served(plain, autoscaler=_owned(spec(serving=scaled()))))
    assert kinds(planned) == ["DeleteAutoscaler"]
    assert planned.actions[0] == DeleteAutoscaler("iris", "hpa-uid")


def test_someone_elses_autoscaler_is_a_conflict_and_never_written() -> None:
    foreign = ObservedAutoscaler(uid="theirs", owned=False, serving_hash=None)
    planned = step(_served(spec(serving=scaled()), autoscaler=foreign))
    assert planned.actions == ()
    assert reasons(planned) == [Reason.DEPLOYMENT_CONFLICT]
    # Without autoscaling in the spec it is not ours to care about: left alone, no conflict.
    plain = spec(serving={"template": {"resources": CPU}})
    quiet = step(_served(plain, autoscaler=foreign))
    assert quiet.actions == () and Reason.DEPLOYMENT_CONFLICT not in reasons(quiet)


def test_the_autoscaler_round_trips_through_the_api_and_is_deleted_by_uid() -> None:
    """Executor and gatherer agree: the created HPA is seen as owned with its hash, and the
    delete carries the uid it was seen with (one made since under that name would stay)."""
    rest, api = cluster_with(spec_dict(serving=scaled()))
    sent: list[tuple[str, str, Any]] = []
    request = rest.request

    def recording(method: str, path: str, **kwargs: Any) -> Any:
        sent.append((method, path, kwargs.get("body")))
        return request(method, path, **kwargs)

    rest.request = recording  # type: ignore[method-assign]
    observed = observe_world(api, namespace="ml", name="iris")
    assert observed is not None and observed.spec is not None and observed.autoscaler is None
    made = serving_autoscaler(meta=observed.metadata, spec=observed.spec)
    assert made is not None
    now = "2026-11-27T12:00:00Z"
    execute(api, observed, Plan(status=observed.status, actions=(CreateAutoscaler(made),)), now=now)
    seen = observe_world(api, namespace="ml", name="iris")
    assert seen is not None and seen.autoscaler is not None
    assert seen.autoscaler.owned and seen.autoscaler.serving_hash == autoscaler_hash(made)
    uid = seen.autoscaler.uid
    assert uid
    execute(api, seen, Plan(status=seen.status, actions=(DeleteAutoscaler("iris", uid),)), now=now)
    hpa = "/apis/autoscaling/v2/namespaces/ml/horizontalpodautoscalers/iris"
    assert ("DELETE", hpa, {"preconditions": {"uid": uid}}) in sent
    gone = observe_world(api, namespace="ml", name="iris")
    assert gone is not None and gone.autoscaler is None
