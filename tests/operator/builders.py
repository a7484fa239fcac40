"""Builders for observations: the planner's tests state the world in a few lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modelpipe import manifests
from modelpipe.api.v1alpha1 import Metadata, ModelPipelineSpec, ModelPipelineStatus
from modelpipe.layout import job_name
from modelpipe.observed import JobPhase, Observed, ObservedDeployment, ObservedJob
from modelpipe.planning import Plan, plan
from modelpipe_trainer.contract import Outcome, TrainerResult, ValidationFailure

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
        input_hash=version,
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
) -> ObservedDeployment:
    """The owned Deployment, made from the default spec unless ``serving_hash`` says otherwise."""
    return ObservedDeployment(
        name=NAME,
        owned=True,
        opted_in=True,
        generation=3,
        observed_generation=3,
        replicas=replicas,
        updated_replicas=replicas,
        total_replicas=replicas if ready else replicas + 1,
        ready_replicas=replicas if ready else 0,
        available_replicas=replicas if ready else 0,
        template_version=version,
        serving_hash=serving_hash or manifests.serving_hash(meta=meta(), spec=spec()),
        containers=("serve",),
        progress_deadline_exceeded=failed,
    )


def step(observed: Observed, minutes: float = 0) -> Plan:
    return plan(observed, NOW + timedelta(minutes=minutes))


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
