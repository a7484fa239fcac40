"""Argo CD health cases made from real plan() outputs (docs/argocd/testdata, health_test.yaml).

Each case is a short story told with the planner's builders (tests/operator/builders.py):
the worlds the operator observed one pass after another, and the ModelPipeline as Argo
CD then reads it: the spec, metadata.generation and the status that plan() wrote. No
condition is written by hand. What Argo CD must answer is stated next to each story,
from the health table in docs/gitops.md; the message is that of a named condition.

    uv run python -m tests.packaging.argocd_cases   # rewrites the files

tests/packaging/test_argocd_health.py fails when the committed files differ from what
plan() produces now, and hack/argocd-health runs the cases in Argo CD's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from tests.operator.builders import (
    SCENARIOS,
    cycle,
    deployment,
    desired_version,
    invalid_data_result,
    job,
    observe,
    result,
    serving,
    spec,
    spec_dict,
    step,
    with_,
)
from tests.operator.canary_world import scenario_canary_aborted, scenario_canary_step
from tests.operator.shadow_world import scenario_shadow_rejected, scenario_shadow_running

from modelpipe.api.v1alpha1 import (
    API_VERSION,
    KIND,
    ConditionType,
    ModelPipelineSpec,
    ModelPipelineStatus,
)
from modelpipe.observed import JobPhase, Observed, QueueSeat

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "docs" / "argocd"
HEALTH_TEST = ARGOCD / "health_test.yaml"
TESTDATA = ARGOCD / "testdata"


@dataclass(frozen=True)
class Seen:
    """The pipeline as Argo CD reads it: what the user applied and what the operator wrote."""

    world: Observed  # metadata and spec
    status: ModelPipelineStatus | None  # None: the operator never wrote one
    spec_body: dict[str, Any] | None = None  # a stored spec that does not parse

    def condition_message(self, type_: ConditionType) -> str:
        assert self.status is not None
        found = next(c for c in self.status.conditions if c.type == type_)
        return found.message

    def object(self) -> dict[str, Any]:
        meta = self.world.metadata
        body: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {
                "name": meta.name,
                "namespace": meta.namespace,
                "uid": meta.uid,
                "generation": meta.generation,
            },
            "spec": self.spec_body or _dump_spec(self.world),
        }
        if self.status is not None:
            body["status"] = self.status.model_dump(mode="json", by_alias=True, exclude_none=True)
        return body


def _dump_spec(world: Observed) -> dict[str, Any]:
    """The spec as applied (defaults left out, so a changed default is no drift here)."""
    assert world.spec is not None
    applied = world.spec.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
    )
    if "image" not in world.spec.code.model_fields_set:  # the operator's configured default
        applied["code"].pop("image", None)
    return applied


def seen(world: Observed) -> Seen:
    """The operator's pass over ``world``, its status written back."""
    return Seen(world, step(world).status)


def scenario(name: str) -> Callable[[], Seen]:
    """A situation tests/operator/builders.py shares with the planner's own tests."""

    def story() -> Seen:
        world, planned = SCENARIOS[name]()
        return Seen(world, planned.status)

    story.__doc__ = SCENARIOS[name].__doc__
    return story


def canary_story(build: Callable[[], tuple[Observed, Any]]) -> Callable[[], Seen]:
    """A canary or shadow situation of tests/operator/canary_world.py or shadow_world.py."""

    def story() -> Seen:
        world, planned = build()
        return Seen(world, planned.status)

    story.__doc__ = build.__doc__
    return story


def edit(world: Observed, new_spec: ModelPipelineSpec) -> Observed:
    """The user applies a new spec: the apiserver bumps metadata.generation."""
    metadata = world.metadata.model_copy(update={"generation": world.metadata.generation + 1})
    return with_(world, spec=new_spec, metadata=metadata)


def _serving() -> Observed:
    return serving(desired_version())


def _new_dataset(world: Observed, dataset: str) -> tuple[Observed, str]:
    """The user applies a new dataset version; the operator's pass starts its Job."""
    new_spec = spec(dataset={"version": dataset})
    return cycle(edit(world, new_spec)), desired_version(new_spec)


def _retraining(world: Observed, dataset: str) -> Observed:
    world, version = _new_dataset(world, dataset)
    return with_(world, jobs=(job(version, JobPhase.ACTIVE),))


def _gate_failed(world: Observed, dataset: str) -> Observed:
    world, version = _new_dataset(world, dataset)
    return with_(world, jobs=(job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.5})),))


def _invalid(world: Observed) -> Seen:
    """The stored spec stops parsing (e.g. written before a CRD upgrade)."""
    body = spec_dict(training={"estimator": {}})
    try:
        ModelPipelineSpec.model_validate(body)
    except ValidationError as error:  # as modelpipe.k8s.gather reports it
        problems = [f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    metadata = world.metadata.model_copy(update={"generation": world.metadata.generation + 1})
    broken = with_(world, spec=None, spec_error="; ".join(problems[:5]), metadata=metadata)
    return Seen(broken, step(broken).status, spec_body=body)


# The stories of this file; the others are the shared SCENARIOS.


def created() -> Seen:
    return Seen(observe(), None)


def generation_lag() -> Seen:
    world = _serving()
    return Seen(edit(world, spec(dataset={"version": "v2"})), world.status)


def first_training() -> Seen:
    world = cycle(observe())
    return seen(with_(world, jobs=(job(desired_version(), JobPhase.ACTIVE),)))


def healthy_serving() -> Seen:
    return seen(_serving())


def retraining_while_serving() -> Seen:
    return seen(_retraining(_serving(), "v2"))


def queued_while_serving() -> Seen:
    """New inputs wait in the training queue (the operator's limit); the old model serves."""
    seat = QueueSeat(position=2, waiting=5, limits="at most 4 training Jobs in the cluster")
    return seen(with_(edit(_serving(), spec(dataset={"version": "v2"})), queue=seat))


def gate_failed() -> Seen:
    return seen(_gate_failed(_serving(), "v2"))


def validation_failed_first_run() -> Seen:
    world = cycle(observe())
    bad = job(desired_version(), JobPhase.FAILED, result=invalid_data_result(), exit_code=3)
    return seen(with_(world, jobs=(bad,)))


def deployment_not_found() -> Seen:
    named = spec(serving={"deploymentName": "web"})
    world = cycle(observe(named))
    version = desired_version(named)
    return seen(
        with_(world, jobs=(job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.9})),))
    )


def pvc_not_found() -> Seen:
    return seen(observe(pvc_exists=False))


def pinned_version_unknown() -> Seen:
    return seen(edit(_serving(), spec(serving={"template": {}, "pinnedVersion": "deadbeef"})))


def suspended() -> Seen:
    return seen(edit(_serving(), spec(suspend=True)))


def invalid_spec_while_training() -> Seen:
    """11.2b: Training=True of the older generation stays next to InvalidSpec.

    As SCENARIOS["invalid_spec_while_training"], with a stored spec that really fails.
    """
    world = cycle(observe())
    return _invalid(cycle(with_(world, jobs=(job(desired_version(), JobPhase.ACTIVE),))))


def invalid_spec_while_production_fails() -> Seen:
    """11.2b: production's Degraded=True of the older generation stays next to InvalidSpec."""
    world, planned = SCENARIOS["production_rollout_failed"]()
    return _invalid(with_(world, status=planned.status))


def production_unavailable_while_retraining() -> Seen:
    """11.2c: production's pods are all gone (not a rollout) while a new run trains."""
    world = cycle(with_(_serving(), deployment=deployment(desired_version(), ready=False)))
    return seen(_retraining(world, "v2"))


def retrain_after_gate_failure() -> Seen:
    """11.2c: a candidate's failure becomes history once newer inputs run."""
    return seen(_retraining(cycle(_gate_failed(_serving(), "v2")), "v3"))


@dataclass(frozen=True)
class Case:
    name: str
    story: Callable[[], Seen]
    status: str
    # The condition whose message Argo CD shows, or a fixed message.
    message: ConditionType | str

    def expected(self, seen_: Seen) -> dict[str, str]:
        if isinstance(self.message, ConditionType):
            return {"status": self.status, "message": seen_.condition_message(self.message)}
        return {"status": self.status, "message": self.message}


READY, DEGRADED = ConditionType.READY, ConditionType.DEGRADED
CASES = (
    Case(
        "progressing_created",
        created,
        "Progressing",
        "Waiting for the operator to observe the pipeline",
    ),
    Case(
        "progressing_generation_lag",
        generation_lag,
        "Progressing",
        "Waiting for the operator to observe generation 2 (observed 1)",
    ),
    Case("progressing_first_training", first_training, "Progressing", READY),
    Case("progressing_retraining_while_serving", retraining_while_serving, "Progressing", READY),
    # 13.1: a run waiting for a slot in the training queue is Progressing.
    Case("progressing_queued_while_serving", queued_while_serving, "Progressing", READY),
    # 11.2a: a rollout is Progressing, as Deployment, Argo Rollout and InferenceService are.
    Case("progressing_rolling_out", scenario("rolling_out_while_serving"), "Progressing", READY),
    Case(
        "progressing_pinned_rollout", scenario("rolling_out_pinned_version"), "Progressing", READY
    ),
    # 11.2c: a candidate's failure is history once newer inputs run.
    Case(
        "progressing_retrain_after_gate_failure", retrain_after_gate_failure, "Progressing", READY
    ),
    Case(
        "progressing_retrain_after_rollback",
        scenario("new_run_after_rollback"),
        "Progressing",
        READY,
    ),
    # A bake window (spec.serving.analysis) is a step under way, as a canary step is.
    Case("progressing_baking", scenario("baking"), "Progressing", READY),
    Case("progressing_canary_step", canary_story(scenario_canary_step), "Progressing", READY),
    Case("progressing_shadow", canary_story(scenario_shadow_running), "Progressing", READY),
    Case("healthy_serving", healthy_serving, "Healthy", READY),
    # Ready's one meaning: tightened thresholds leave the asked-for model serving.
    Case(
        "healthy_production_below_thresholds",
        scenario("production_below_thresholds"),
        "Healthy",
        READY,
    ),
    Case("degraded_gate_failed", gate_failed, "Degraded", READY),
    Case("degraded_validation_failed", validation_failed_first_run, "Degraded", READY),
    Case("degraded_rolled_back", scenario("candidate_rolled_back"), "Degraded", READY),
    Case("degraded_rolled_back_in_bake", scenario("rolled_back_in_bake"), "Degraded", READY),
    Case("degraded_canary_aborted", canary_story(scenario_canary_aborted), "Degraded", READY),
    Case("degraded_shadow_rejected", canary_story(scenario_shadow_rejected), "Degraded", READY),
    Case("degraded_deployment_not_found", deployment_not_found, "Degraded", READY),
    Case("degraded_pvc_not_found", pvc_not_found, "Degraded", READY),
    Case("degraded_pinned_version_unknown", pinned_version_unknown, "Degraded", READY),
    # 11.2b: conditions of an older generation never hide a current InvalidSpec.
    Case(
        "degraded_invalid_spec_while_training",
        invalid_spec_while_training,
        "Degraded",
        READY,
    ),
    Case(
        "degraded_invalid_spec_while_production_fails",
        invalid_spec_while_production_fails,
        "Degraded",
        READY,
    ),
    # 11.2c: production's own serving failing is Degraded, also while a retrain runs.
    Case(
        "degraded_production_rollout_failed",
        scenario("production_rollout_failed"),
        "Degraded",
        DEGRADED,
    ),
    Case(
        "degraded_production_failing_while_retraining",
        scenario("production_failing_during_retrain"),
        "Degraded",
        DEGRADED,
    ),
    Case(
        "degraded_production_unavailable_while_retraining",
        production_unavailable_while_retraining,
        "Degraded",
        DEGRADED,
    ),
    Case("suspended", suspended, "Suspended", "Pipeline is suspended (spec.suspend is true)"),
)


def render() -> dict[Path, str]:
    """Every file this module writes, by path, with its content."""
    files: dict[Path, str] = {}
    tests: list[dict[str, Any]] = []
    for case in CASES:
        seen_ = case.story()
        path = f"testdata/{case.name}.yaml"
        files[ARGOCD / path] = yaml.safe_dump(seen_.object(), sort_keys=False)
        tests.append({"healthStatus": case.expected(seen_), "inputPath": path})
    header = "# Generated by `uv run python -m tests.packaging.argocd_cases`: do not edit.\n"
    files[HEALTH_TEST] = header + yaml.safe_dump({"tests": tests}, sort_keys=False, width=100)
    return files


def main() -> None:
    files = render()
    for stale in set(TESTDATA.glob("*.yaml")) - set(files):
        stale.unlink()
    for path, text in files.items():
        path.write_text(text)
    print(f"Wrote {len(files) - 1} cases to {TESTDATA.relative_to(ROOT)} and {HEALTH_TEST.name}")


if __name__ == "__main__":
    main()
