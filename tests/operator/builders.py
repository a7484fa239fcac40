"""Builders for observations: the planner's tests state the world in a few lines."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from modelpipe_contract.result import Outcome, TrainerResult, ValidationFailure

from modelpipe import manifests
from modelpipe.api.v1alpha1 import (
    API_VERSION,
    KIND,
    ConditionType,
    Metadata,
    ModelPipelineSpec,
    ModelPipelineStatus,
    Reason,
    RunRecord,
    all_runs,
)
from modelpipe.layout import job_name
from modelpipe.observed import (
    JobPhase,
    Observed,
    ObservedDeployment,
    ObservedJob,
    PodMetrics,
    QueueSeat,
)
from modelpipe.planning import Plan, plan

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NAME = "iris"


def spec_dict(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": {"revision": "abc123"},
        "dataset": {
            "uri": "http://127.0.0.1:9/iris-v1.csv",
            "version": "v1",
            "schema": {
                "target": "species",
                "features": [{"name": n} for n in ("sepal_length", "sepal_width")],
            },
        },
        "training": {"estimator": {"className": "sklearn.linear_model.LogisticRegression"}},
        "evaluation": {"thresholds": [{"metric": "accuracy", "min": 0.8}]},
        "serving": {"template": {}},
        "artifacts": {"pvc": "models"},
    }
    for key, value in overrides.items():
        if key != "serving" and isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def spec(**overrides: Any) -> ModelPipelineSpec:
    return ModelPipelineSpec.model_validate(spec_dict(**overrides))


def meta(**annotations: str) -> Metadata:
    return Metadata(name=NAME, namespace="ml", uid="uid-1", generation=1, annotations=annotations)


def observe(
    the_spec: ModelPipelineSpec | None = None,
    *,
    status: ModelPipelineStatus | None = None,
    jobs: tuple[ObservedJob, ...] = (),
    deployment: ObservedDeployment | None = None,
    pvc_exists: bool = True,
    annotations: dict[str, str] | None = None,
    queue: QueueSeat | None = None,
) -> Observed:
    return Observed(
        metadata=meta(**(annotations or {})),
        status=status or ModelPipelineStatus(),
        spec=the_spec or spec(),
        jobs=jobs,
        deployment=deployment,
        service_exists=deployment is not None,
        service_owned=deployment is not None,
        pvc_exists=pvc_exists,
        queue=queue,
    )


def result(metrics: dict[str, float], **kwargs: Any) -> TrainerResult:
    return TrainerResult(outcome=Outcome.SUCCEEDED, metrics=metrics, data_hash="d" * 64, **kwargs)


def invalid_data_result() -> TrainerResult:
    failures = [ValidationFailure(check="column_present", column="species", message="missing")]
    return TrainerResult(
        outcome=Outcome.VALIDATION_FAILED, message="1 check failed", failures=failures
    )


def job(version: str, phase: JobPhase, **kwargs: Any) -> ObservedJob:
    return ObservedJob(
        name=job_name(pipeline=NAME, version=version),
        model_version=version,
        phase=phase,
        start_time="2026-11-27T11:50:00Z",
        completion_time=None if phase == JobPhase.ACTIVE else "2026-11-27T11:55:00Z",
        **kwargs,
    )


def deployment(
    version: str | None,
    *,
    ready: bool = True,
    failed: bool = False,
    serving_hash: str | None = None,
    replicas: int = 1,
    old_pods: int = 0,
) -> ObservedDeployment:
    """The owned Deployment, made from the default spec unless ``serving_hash`` says otherwise.

    ``old_pods``: ready pods of the previous template still running (a surge rollout).
    """
    return ObservedDeployment(
        name=NAME,
        owned=True,
        opted_in=True,
        generation=3,
        observed_generation=3,
        replicas=replicas,
        updated_replicas=replicas,
        total_replicas=replicas if ready else replicas + old_pods,
        ready_replicas=replicas if ready else old_pods,
        available_replicas=replicas if ready else old_pods,
        template_version=version,
        serving_hash=serving_hash or manifests.serving_hash(meta=meta(), spec=spec()),
        containers=("serve",),
        progress_deadline_exceeded=failed,
    )


def step(observed: Observed, minutes: float = 0) -> Plan:
    """plan() at ``minutes`` after NOW; it must leave the observation as it was."""
    before = copy.deepcopy(observed)
    planned = plan(observed, NOW + timedelta(minutes=minutes))
    assert observed == before, "plan() changed the observation it was given"
    return planned


def desired_version(the_spec: ModelPipelineSpec | None = None, **annotations: str) -> str:
    """The model version the planner wants for this spec."""
    planned = step(observe(the_spec, annotations=annotations))
    assert planned.status.inputs is not None
    return planned.status.inputs.model_version


def with_(observed: Observed, **changes: Any) -> Observed:
    """The same world with some parts changed; a created Deployment comes with its Service."""
    if "deployment" in changes and "service_exists" not in changes:
        changes["service_exists"] = changes["deployment"] is not None
        changes.setdefault("service_owned", changes["service_exists"])
    return Observed(**{**observed.__dict__, **changes})


def cycle(observed: Observed, **changes: Any) -> Observed:
    """The next observation: same world, the status the last plan wrote."""
    return with_(observed, **{"status": step(observed).status, **changes})


def condition(planned: Plan, type_: ConditionType) -> tuple[str, str]:
    found = next(c for c in planned.status.conditions if c.type == type_)
    return found.status, found.reason


def record(planned: Plan, version: str) -> RunRecord:
    """The planned status's run of ``version``."""
    return next(r for r in all_runs(planned.status) if r.model_version == version)


def kinds(planned: Plan) -> list[str]:
    return [type(a).__name__ for a in planned.actions]


def reasons(planned: Plan) -> list[Reason]:
    return [e.reason for e in planned.events]


def trained(version: str, metrics: dict[str, float] | None = None, **kwargs: Any) -> Observed:
    """A pipeline whose Job for ``version`` succeeded, after the Job-created pass."""
    first = observe()
    return cycle(
        first,
        jobs=(job(version, JobPhase.SUCCEEDED, result=result(metrics or {"accuracy": 0.95})),),
        **kwargs,
    )


def serving(version: str, metrics: dict[str, float] | None = None) -> Observed:
    """A pipeline whose model ``version`` passed the gate and rolled out."""
    world = cycle(trained(version, metrics))
    return cycle(with_(world, deployment=deployment(version)))


# Scenarios: real plan() outputs for situations other tests (e.g. Argo CD health) assess.
# Each returns the last observation and the plan made from it.

Scenario = tuple[Observed, Plan]


def _promoted_second() -> tuple[Observed, str, str]:
    """Model ``first`` served, then dataset v2 trained ``second``, which now serves."""
    first = desired_version()
    v2 = spec(dataset={"version": "v2"})
    second = desired_version(v2)
    world = cycle(with_(serving(first), spec=v2))
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    world = cycle(cycle(world), deployment=deployment(second))
    return cycle(world), first, second


def scenario_rolling_out_while_serving() -> Scenario:
    """A new model passed the gate and rolls out while the older one serves."""
    first = desired_version()
    v2 = spec(dataset={"version": "v2"})
    second = desired_version(v2)
    world = cycle(with_(serving(first), spec=v2))
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    world = with_(world, deployment=deployment(second, ready=False, old_pods=1))
    return world, step(world)


def scenario_rolling_out_pinned_version() -> Scenario:
    """spec.serving.pinnedVersion names the older model; the Deployment rolls back to it."""
    world, first, _ = _promoted_second()
    pinned = spec(dataset={"version": "v2"}, serving={"template": {}, "pinnedVersion": first})
    world = cycle(with_(world, spec=pinned))
    world = with_(world, deployment=deployment(first, ready=False, old_pods=1))
    return world, step(world)


def scenario_invalid_spec_while_training() -> Scenario:
    """Generation 2 does not parse while generation 1's Job is running."""
    running = cycle(observe(), jobs=(job(desired_version(), JobPhase.ACTIVE),))
    world = cycle(running)
    invalid = world.metadata.model_copy(update={"generation": 2})
    world = with_(world, spec=None, spec_error="spec.training: field required", metadata=invalid)
    return world, step(world)


def scenario_production_failing_during_retrain() -> Scenario:
    """Production's own Deployment is stuck (no pod available) while new inputs train."""
    first = desired_version()
    v2 = spec(dataset={"version": "v2"})
    stuck = deployment(first, ready=False, failed=True)
    world = cycle(with_(serving(first), spec=v2, deployment=stuck))
    world = with_(world, jobs=(job(desired_version(v2), JobPhase.ACTIVE),))
    return world, step(world)


def scenario_candidate_rolled_back() -> Scenario:
    """A passing candidate's pods never became ready: rolled back, production untouched."""
    world, _ = scenario_rolling_out_while_serving()
    world = cycle(world)
    second = all_runs(world.status)[0].model_version
    world = with_(world, deployment=deployment(second, ready=False, failed=True, old_pods=1))
    return world, step(world)


def scenario_new_run_after_rollback() -> Scenario:
    """After a candidate's rollback, new inputs train: the rollback is history."""
    world, planned = scenario_candidate_rolled_back()
    production = planned.status.production
    assert production is not None
    world = with_(world, status=planned.status, deployment=deployment(production.model_version))
    v3 = spec(dataset={"version": "v3"})
    world = cycle(with_(cycle(world), spec=v3))
    world = with_(world, jobs=(job(desired_version(v3), JobPhase.ACTIVE),))
    return world, step(world)


def scenario_production_rollout_failed() -> Scenario:
    """The production model's own rollout exceeded its deadline (nothing newer to try)."""
    world = serving(desired_version())
    world = with_(world, deployment=deployment(desired_version(), ready=False, failed=True))
    return world, step(world)


def scenario_production_below_thresholds() -> Scenario:
    """spec.evaluation.thresholds tightened above what the model in production scored."""
    world = serving(desired_version(), {"accuracy": 0.85})
    world = with_(world, spec=spec(evaluation={"thresholds": [{"metric": "accuracy", "min": 0.9}]}))
    return world, step(world)


# spec.serving.analysis for the bake-window stories (planning.bake).
ANALYSIS = {"bakeSeconds": 60, "maxErrorRate": 0.05, "maxLatencyP99Ms": 50, "minRequests": 20}
FAST_BUCKETS = ((0.001, 50.0), (0.01, 100.0), (float("inf"), 100.0))


def baked(**analysis: object) -> dict[str, object]:
    """spec.serving with a bake window."""
    return {"template": {}, "analysis": {**ANALYSIS, **analysis}}


def pod_metrics(
    version: str, *, errors: float = 0, problem: str | None = None
) -> tuple[PodMetrics, ...]:
    """One serving pod of ``version`` that answered 100 requests, ``errors`` of them 5xx."""
    return (
        PodMetrics(
            pod=f"{NAME}-{version}",
            version=version,
            requests=100,
            errors=errors,
            rows=100,
            latency_buckets=FAST_BUCKETS,
            problem=problem,
        ),
    )


def promoted_with_bake() -> tuple[Observed, str, str]:
    """``first`` served; ``second`` passed the gate and has just replaced it (bake window)."""
    first = desired_version(spec(serving=baked()))
    v2 = spec(dataset={"version": "v2"}, serving=baked())
    second = desired_version(v2)
    world = cycle(with_(serving(first), spec=v2))
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    world = cycle(cycle(world), deployment=deployment(second))
    return world, first, second


def scenario_baking() -> Scenario:
    """A promoted model's bake window runs; its live metrics are healthy so far."""
    world, _, second = promoted_with_bake()
    world = cycle(world, pod_metrics=pod_metrics(second))
    return world, step(world, minutes=0.5)


def scenario_rolled_back_in_bake() -> Scenario:
    """A promoted model broke its live limits in the bake window: rolled back."""
    world, _, second = promoted_with_bake()
    world = cycle(world, pod_metrics=pod_metrics(second, errors=30))
    return world, step(world, minutes=0.5)


SCENARIOS = {
    "rolling_out_while_serving": scenario_rolling_out_while_serving,
    "rolling_out_pinned_version": scenario_rolling_out_pinned_version,
    "invalid_spec_while_training": scenario_invalid_spec_while_training,
    "production_failing_during_retrain": scenario_production_failing_during_retrain,
    "candidate_rolled_back": scenario_candidate_rolled_back,
    "new_run_after_rollback": scenario_new_run_after_rollback,
    "production_rollout_failed": scenario_production_rollout_failed,
    "production_below_thresholds": scenario_production_below_thresholds,
    "baking": scenario_baking,
    "rolled_back_in_bake": scenario_rolled_back_in_bake,
}


def as_object(observed: Observed, planned: Plan) -> dict[str, Any]:
    """The ModelPipeline as the apiserver would hold it after the plan's status write."""
    meta_ = observed.metadata
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": meta_.name,
            "namespace": meta_.namespace,
            "generation": meta_.generation,
        },
        "spec": observed.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        if observed.spec
        else {},
        "status": planned.status.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
