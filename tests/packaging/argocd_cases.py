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
    deployment,
    desired_version,
    invalid_data_result,
    job,
    observe,
    result,
    spec,
    spec_dict,
    step,
    with_,
)

from modelpipe.api.v1alpha1 import (
    API_VERSION,
    KIND,
    ConditionType,
    ModelPipelineSpec,
    ModelPipelineStatus,
)
from modelpipe.observed import JobPhase, Observed, ObservedJob

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "docs" / "argocd"
HEALTH_TEST = ARGOCD / "health_test.yaml"
TESTDATA = ARGOCD / "testdata"
# A case that plan() on main does not bring about yet: the reason, and where the work is.
PLANNING = "issue 11 item 4 (Ready's one meaning), planning work in progress: "


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
    return world.spec.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
    )


# The operator's loop, one pass at a time: plan() over what it sees, its status written back.


def run(world: Observed, minutes: float = 0) -> Observed:
    return with_(world, status=step(world, minutes).status)


def edit(world: Observed, new_spec: ModelPipelineSpec) -> Observed:
    """The user applies a new spec: the apiserver bumps metadata.generation."""
    metadata = world.metadata.model_copy(update={"generation": world.metadata.generation + 1})
    return with_(world, spec=new_spec, metadata=metadata)


def seen(world: Observed) -> Seen:
    return Seen(world, step(world).status)


def _passing(version: str, accuracy: float = 0.95) -> ObservedJob:
    return job(version, JobPhase.SUCCEEDED, result=result({"accuracy": accuracy}))


def _rolled_out(world: Observed, version: str) -> Observed:
    """The Job for ``version`` passes the gate, its pods roll out and become available."""
    world = run(with_(world, jobs=(_passing(version),)))
    world = run(with_(world, deployment=deployment(version, ready=False)))
    return run(with_(world, deployment=deployment(version)))


def _serving() -> Observed:
    """A new pipeline whose first model is promoted and Ready."""
    return _rolled_out(run(observe()), desired_version())


def _new_dataset(world: Observed, dataset: str) -> tuple[Observed, str]:
    """The user applies a new dataset version; the operator's pass starts its Job."""
    new_spec = spec(dataset={"version": dataset})
    return run(edit(world, new_spec)), desired_version(new_spec)


def _serving_next(world: Observed, dataset: str) -> Observed:
    return _rolled_out(*_new_dataset(world, dataset))


def _retraining(world: Observed, dataset: str) -> Observed:
    world, version = _new_dataset(world, dataset)
    return with_(world, jobs=(job(version, JobPhase.ACTIVE),))


def _gate_failed(world: Observed, dataset: str) -> Observed:
    world, version = _new_dataset(world, dataset)
    return with_(world, jobs=(_passing(version, accuracy=0.5),))


def _rolled_back(world: Observed, dataset: str) -> Observed:
    """A new model passes the gate, its pods never become ready, production is restored."""
    first = world.deployment.template_version if world.deployment else None
    world, second = _new_dataset(world, dataset)
    world = run(with_(world, jobs=(_passing(second),)))
    world = run(with_(world, deployment=deployment(second, ready=False)))
    world = run(with_(world, deployment=deployment(second, ready=False, failed=True)))
    return with_(world, deployment=deployment(first))


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


# The stories.


def created() -> Seen:
    return Seen(observe(), None)


def generation_lag() -> Seen:
    world = _serving()
    return Seen(edit(world, spec(dataset={"version": "v2"})), world.status)


def first_training() -> Seen:
    world = run(observe())
    return seen(with_(world, jobs=(job(desired_version(), JobPhase.ACTIVE),)))


def healthy_serving() -> Seen:
    return seen(_serving())


def retraining_while_serving() -> Seen:
    return seen(_retraining(_serving(), "v2"))


def rolling_out_while_older_serves() -> Seen:
    world, second = _new_dataset(_serving(), "v2")
    world = run(with_(world, jobs=(_passing(second),)))
    return seen(with_(world, deployment=deployment(second, ready=False)))


def pinned_rollout_while_newer_serves() -> Seen:
    first = desired_version()
    world = _serving()
    world = _serving_next(world, "v2")
    pinned = spec(dataset={"version": "v2"}, serving={"template": {}, "pinnedVersion": first})
    world = run(edit(world, pinned))
    return seen(with_(world, deployment=deployment(first, ready=False)))


def gate_failed() -> Seen:
    return seen(_gate_failed(_serving(), "v2"))


def validation_failed_first_run() -> Seen:
    world = run(observe())
    bad = job(desired_version(), JobPhase.FAILED, result=invalid_data_result(), exit_code=3)
    return seen(with_(world, jobs=(bad,)))


def rolled_back() -> Seen:
    return seen(_rolled_back(_serving(), "v2"))


def deployment_not_found() -> Seen:
    named = spec(serving={"deploymentName": "web"})
    world = run(observe(named))
    return seen(with_(world, jobs=(_passing(desired_version(named)),)))


def pvc_not_found() -> Seen:
    return seen(observe(pvc_exists=False))


def pinned_version_unknown() -> Seen:
    pinned = spec(serving={"template": {}, "pinnedVersion": "deadbeef"})
    return seen(edit(_serving(), pinned))


def suspended() -> Seen:
    return seen(edit(_serving(), spec(suspend=True)))


def invalid_spec_while_training() -> Seen:
    """11.2b: Training=True of the older generation stays in status next to InvalidSpec."""
    world = run(observe())
    return _invalid(run(with_(world, jobs=(job(desired_version(), JobPhase.ACTIVE),))))


def invalid_spec_after_rollback() -> Seen:
    """11.2b: whatever Degraded said for the older generation stays next to InvalidSpec."""
    return _invalid(run(_rolled_back(_serving(), "v2")))


def production_failing_while_retraining() -> Seen:
    """11.2c: production's own Deployment exceeds its deadline while a new run trains."""
    first = desired_version()
    world = run(with_(_serving(), deployment=deployment(first, ready=False, failed=True)))
    return seen(_retraining(world, "v2"))


def production_unavailable_while_retraining() -> Seen:
    """11.2c: production's pods are all gone (not a rollout) while a new run trains."""
    first = desired_version()
    world = run(with_(_serving(), deployment=deployment(first, ready=False)))
    return seen(_retraining(world, "v2"))


def retrain_after_gate_failure() -> Seen:
    """11.2c: a candidate's failure becomes history once newer inputs run."""
    return seen(_retraining(run(_gate_failed(_serving(), "v2")), "v3"))


def retrain_after_rollback() -> Seen:
    """11.2c: a rolled-back candidate becomes history once newer inputs run."""
    return seen(_retraining(run(_rolled_back(_serving(), "v2")), "v3"))


@dataclass(frozen=True)
class Case:
    name: str
    story: Callable[[], Seen]
    status: str
    # The condition whose message Argo CD shows, or a fixed message.
    message: ConditionType | str
    known_failure: str | None = None

    def expected(self, seen_: Seen) -> dict[str, str]:
        if isinstance(self.message, ConditionType):
            return {"status": self.status, "message": seen_.condition_message(self.message)}
        return {"status": self.status, "message": self.message}


READY, DEGRADED = ConditionType.READY, ConditionType.DEGRADED
# What plan() on main does not write yet (issue 11 items 2 and 4; the planning work).
READY_TRUE_WHILE_TRAINING = PLANNING + "Ready=True while newer inputs train"
READY_TRUE_WHILE_ROLLING = PLANNING + "Ready=True while the asked-for model rolls out"
READY_TRUE_AFTER_FAILURE = PLANNING + "Ready=True after the asked-for inputs failed"
NO_MODEL_YET_AFTER_FAILURE = PLANNING + "Ready=False NoModelYet after the first run failed"
ROLLBACK_IS_DEGRADED = PLANNING + "a rolled-back candidate stays Degraded=True"
NO_DEPLOYMENT_UNAVAILABLE = PLANNING + "no Degraded when production has no available pod"
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
    Case(
        "progressing_retraining_while_serving",
        retraining_while_serving,
        "Progressing",
        READY,
        READY_TRUE_WHILE_TRAINING,
    ),
    Case(
        "progressing_rolling_out",
        rolling_out_while_older_serves,
        "Progressing",
        READY,
        READY_TRUE_WHILE_ROLLING,
    ),
    Case(
        "progressing_pinned_rollout",
        pinned_rollout_while_newer_serves,
        "Progressing",
        READY,
        READY_TRUE_WHILE_ROLLING,
    ),
    Case(
        "progressing_retrain_after_gate_failure",
        retrain_after_gate_failure,
        "Progressing",
        READY,
        READY_TRUE_WHILE_TRAINING,
    ),
    Case(
        "progressing_retrain_after_rollback",
        retrain_after_rollback,
        "Progressing",
        READY,
        ROLLBACK_IS_DEGRADED,
    ),
    Case("healthy_serving", healthy_serving, "Healthy", READY),
    Case("degraded_gate_failed", gate_failed, "Degraded", READY, READY_TRUE_AFTER_FAILURE),
    Case(
        "degraded_validation_failed",
        validation_failed_first_run,
        "Degraded",
        READY,
        NO_MODEL_YET_AFTER_FAILURE,
    ),
    Case("degraded_rolled_back", rolled_back, "Degraded", READY, READY_TRUE_AFTER_FAILURE),
    Case("degraded_deployment_not_found", deployment_not_found, "Degraded", READY),
    Case("degraded_pvc_not_found", pvc_not_found, "Degraded", READY),
    Case("degraded_pinned_version_unknown", pinned_version_unknown, "Degraded", READY),
    Case("degraded_invalid_spec_while_training", invalid_spec_while_training, "Degraded", READY),
    Case("degraded_invalid_spec_after_rollback", invalid_spec_after_rollback, "Degraded", READY),
    Case(
        "degraded_production_failing_while_retraining",
        production_failing_while_retraining,
        "Degraded",
        DEGRADED,
    ),
    Case(
        "degraded_production_unavailable_while_retraining",
        production_unavailable_while_retraining,
        "Degraded",
        DEGRADED,
        NO_DEPLOYMENT_UNAVAILABLE,
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
        entry: dict[str, Any] = {"healthStatus": case.expected(seen_), "inputPath": path}
        if case.known_failure:
            entry["knownFailure"] = case.known_failure
        tests.append(entry)
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
