"""plan() for a shadow (spec.serving.strategy Shadow): one transition per test, from the
observed Deployments, production's and the shadow's /metrics and the clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.operator.builders import (
    condition,
    deployment,
    kinds,
    meta,
    reasons,
    record,
    spec,
    step,
    with_,
)
from tests.operator.shadow_world import (
    REPLICAS,
    candidate_passed,
    in_shadow,
    metrics,
    shadow,
    stable,
)

from modelpipe import manifests
from modelpipe.api.v1alpha1 import ConditionType, Reason, Verdict
from modelpipe.layout import SHADOW_TARGET_ENV
from modelpipe.planning import (
    CreateDeployment,
    CreateService,
    PatchDeployment,
    ScaleDeployment,
    UpdateDeployment,
)
from modelpipe.planning.outcome import Plan


def scales(planned: Plan) -> dict[str, int]:
    return {a.name: a.replicas for a in planned.actions if isinstance(a, ScaleDeployment)}


def touches_production(planned: Plan) -> bool:
    """Any write to production's Deployment (iris): a patch, an update or a scale."""
    writes = (PatchDeployment, UpdateDeployment, ScaleDeployment)
    return any(isinstance(a, writes) and a.name == "iris" for a in planned.actions)


def test_a_candidate_that_passed_the_gate_runs_in_shadow_not_production() -> None:
    world, _, first, second = candidate_passed()
    planned = step(world)
    created = [a for a in planned.actions if isinstance(a, CreateDeployment)]
    assert [c.manifest["metadata"]["name"] for c in created] == ["iris-shadow"]
    manifest = created[0].manifest
    pod = manifest["spec"]["template"]
    # Outside the pipeline's Service (component serving): no client ever gets its answers.
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "shadow"
    assert manifest["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "shadow"
    assert manifest["spec"]["replicas"] == REPLICAS
    env = {e["name"] for e in pod["spec"]["containers"][0]["env"]}
    assert SHADOW_TARGET_ENV not in env  # the shadow copies nothing on
    assert not touches_production(planned)
    assert planned.status.production and planned.status.production.model_version == first
    assert planned.status.shadow and planned.status.shadow.model_version == second
    assert Reason.SHADOW_RUNNING in reasons(planned)
    # Argo CD: Progressing (Ready=False, a reason that is not a failure).
    assert condition(planned, ConditionType.READY) == ("False", Reason.SHADOW_RUNNING)


def _env(manifest: dict[str, Any]) -> dict[str, Any]:
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_the_first_model_claims_the_shadow_service_and_mirrors_to_it() -> None:
    world, _, _, _ = candidate_passed()
    first_model = world.status.model_copy(update={"production": None})
    fresh = with_(world, deployment=None, status=first_model, shadow_service_exists=False)
    planned = step(fresh)
    (created,) = [a for a in planned.actions if isinstance(a, CreateDeployment)]
    # host:port from the pipeline's name, never a URL from the spec
    assert _env(created.manifest)[SHADOW_TARGET_ENV] == "iris-shadow:8080"
    services = {a.manifest["metadata"]["name"]: a.manifest for a in planned.actions
                if isinstance(a, CreateService)}  # fmt: skip
    assert set(services) == {"iris", "iris-shadow"}
    assert services["iris-shadow"]["spec"]["selector"]["app.kubernetes.io/component"] == "shadow"
    assert services["iris-shadow"]["metadata"]["ownerReferences"][0]["name"] == "iris"
    assert planned.status.shadow is None  # a first model rolls at once


def test_production_never_mirrors_to_a_foreign_shadow_service() -> None:
    world, _, _, _ = candidate_passed()
    first_model = world.status.model_copy(update={"production": None})
    foreign = with_(
        world,
        deployment=None,
        status=first_model,
        shadow_service_exists=True,
        shadow_service_owned=False,
    )
    planned = step(foreign)
    (created,) = [a for a in planned.actions if isinstance(a, CreateDeployment)]
    assert SHADOW_TARGET_ENV not in _env(created.manifest)
    assert all(a.manifest["metadata"]["name"] != "iris-shadow" for a in planned.actions
               if isinstance(a, CreateService))  # fmt: skip


def test_switching_to_shadow_patches_production_once_with_the_mirror() -> None:
    world, v2, first, _ = in_shadow()
    rolling = with_(world, deployment=stable(v2, first), status=world.status)
    plain = spec(serving={"template": {}, "replicas": REPLICAS})
    before = with_(rolling, spec=plain, deployment=deployment(first, replicas=REPLICAS,
        serving_hash=manifests.serving_hash(meta=meta(), spec=plain)))  # fmt: skip
    switched = with_(before, spec=v2, shadow=None)
    planned = step(switched)
    updates = [a for a in planned.actions if isinstance(a, UpdateDeployment) and a.name == "iris"]
    assert len(updates) == 1
    patched = updates[0].patch["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": SHADOW_TARGET_ENV, "value": "iris-shadow:8080"} in patched


def test_agreement_and_healthy_metrics_wait_for_the_duration_then_promote() -> None:
    world, _, first, second = in_shadow()
    good = with_(world, pod_metrics=metrics(first, second, agreed=95, disagreed=5))
    waiting = step(good, minutes=0.5)
    assert not kinds(waiting) and Reason.SHADOW_RUNNING not in reasons(waiting)
    assert waiting.requeue_after is not None and waiting.requeue_after <= 5
    passed = step(good, minutes=1.5)
    assert passed.status.shadow and passed.status.shadow.passed_at is not None
    patches = [a for a in passed.actions if isinstance(a, PatchDeployment)]
    assert [(p.name, p.version) for p in patches] == [("iris", second)]  # the normal rollout
    assert scales(passed) == {"iris-shadow": 0}
    row = record(passed, second).checks[-1]
    assert (row.gate, row.metric, row.passed, row.value) == ("analysis", "shadow", True, 0.95)
    assert "agreement >= 90.0%" in row.bound
    assert Reason.SHADOW_RUNNING in reasons(passed)


def test_low_agreement_rejects_at_once_and_production_is_untouched() -> None:
    world, _, first, second = in_shadow()
    bad = with_(world, pod_metrics=metrics(first, second, agreed=40, disagreed=60))
    planned = step(bad, minutes=0.5)  # mid-window: enough rows to know
    assert not touches_production(planned)
    assert scales(planned) == {"iris-shadow": 0}
    assert planned.status.shadow is None
    run = record(planned, second)
    assert (run.verdict, run.reason) == (Verdict.ROLLED_BACK, Reason.SHADOW_REJECTED)
    assert "agreement 40.0% (40 of 100 mirrored rows) below the 90.0% required" in run.message
    assert run.checks[-1].passed is False and run.checks[-1].value == 0.4
    assert Reason.SHADOW_REJECTED in reasons(planned)
    assert planned.status.production and planned.status.production.model_version == first
    # Argo CD: Degraded (Ready=False RolledBack, a failure reason).
    assert condition(planned, ConditionType.READY) == ("False", Reason.ROLLED_BACK)


def test_a_candidate_erroring_in_shadow_is_rejected() -> None:
    world, _, first, second = in_shadow()
    erring = with_(world, pod_metrics=metrics(first, second, agreed=99, disagreed=1, errors=30))
    planned = step(erring, minutes=0.5)
    run = record(planned, second)
    assert run.reason == Reason.SHADOW_REJECTED and "error rate 30.0%" in run.message
    assert not touches_production(planned)


def test_too_few_mirrored_rows_hold_the_shadow_never_pass_it() -> None:
    world, _, first, second = in_shadow()
    quiet = with_(world, pod_metrics=metrics(first, second, agreed=5, disagreed=0))
    planned = step(quiet, minutes=1.5)
    assert condition(planned, ConditionType.PROMOTED) == ("False", Reason.ANALYSIS_HELD)
    assert "5 mirrored rows compared" in next(
        c.message for c in planned.status.conditions if c.type == ConditionType.PROMOTED
    )
    assert not touches_production(planned) and planned.status.shadow is not None


def test_unreadable_metrics_hold_the_shadow() -> None:
    world, _, first, second = in_shadow()
    scrapes = metrics(first, second, agreed=95, disagreed=5)
    broken = (scrapes[0], replace(scrapes[1], problem="GET /metrics timed out after 2s"))
    planned = step(with_(world, pod_metrics=broken), minutes=1.5)
    assert condition(planned, ConditionType.PROMOTED) == ("False", Reason.ANALYSIS_HELD)
    assert Reason.ANALYSIS_HELD in reasons(planned) and not touches_production(planned)


def test_shadow_pods_missing_the_deadline_reject_the_candidate() -> None:
    world, _, _, second = in_shadow()
    planned = step(with_(world, shadow=shadow(second, ready=False, failed=True)))
    run = record(planned, second)
    assert run.reason == Reason.SHADOW_REJECTED and "progress deadline" in run.message
    assert not touches_production(planned)


def test_a_foreign_shadow_deployment_is_never_written() -> None:
    world, _, _, _ = candidate_passed()
    foreign = with_(world, shadow=shadow("other", owned=False))
    planned = step(foreign)
    assert not planned.actions
    assert planned.status.shadow is None
    ready = next(c for c in planned.status.conditions if c.type == ConditionType.READY)
    assert (ready.status, ready.reason) == ("False", Reason.DEPLOYMENT_CONFLICT)
    assert "Deployment iris-shadow exists and is not this pipeline's" in ready.message


def test_a_foreign_shadow_service_blocks_the_shadow() -> None:
    world, _, _, _ = candidate_passed()
    planned = step(with_(world, shadow_service_exists=True, shadow_service_owned=False))
    assert planned.status.shadow is None
    assert not [a for a in planned.actions if isinstance(a, CreateDeployment | CreateService)]
    (update,) = [a for a in planned.actions if isinstance(a, UpdateDeployment)]
    env = update.patch["spec"]["template"]["spec"]["containers"][0]["env"]
    assert update.name == "iris" and SHADOW_TARGET_ENV not in {e["name"] for e in env}
    assert "Service iris-shadow exists" in next(
        c.message for c in planned.status.conditions if c.type == ConditionType.READY
    )


def test_a_restarted_operator_resumes_the_shadow_without_a_second_start() -> None:
    world, _, _, second = in_shadow()
    again = step(world, minutes=0.2)
    assert again.status.shadow and again.status.shadow.model_version == second
    assert "CreateDeployment" not in kinds(again) and Reason.SHADOW_RUNNING not in reasons(again)


def test_after_promotion_the_shadow_is_retired() -> None:
    world, v2, first, second = in_shadow()
    good = with_(world, pod_metrics=metrics(first, second, agreed=95, disagreed=5))
    passed = step(good, minutes=1.5)
    rolled = with_(good, status=passed.status, deployment=stable(v2, second), shadow=shadow(second))
    settled = step(rolled, minutes=2)
    assert settled.status.production and settled.status.production.model_version == second
    assert settled.status.shadow is None
    assert scales(settled) == {"iris-shadow": 0}
