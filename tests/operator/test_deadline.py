"""The rollout deadline by the runtime that serves the candidate (issue 17, "Fast start").

A verified ONNX model starts in seconds, so it gets the operator's short default; the
scikit-learn fallback (or a run that did not say) keeps the long one; a spec value wins.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from modelpipe_contract.result import ServingRuntime, TrainerResult
from tests.operator.builders import (
    cycle,
    deployment,
    desired_version,
    job,
    meta,
    record,
    result,
    serving,
    step,
    with_,
)
from tests.operator.builders import spec as make_spec

from modelpipe.api.config import (
    DEFAULT_PROGRESS_DEADLINE_ONNX,
    DEFAULT_PROGRESS_DEADLINE_SKLEARN,
    PROGRESS_DEADLINE_ONNX_ENV,
    PROGRESS_DEADLINE_SKLEARN_ENV,
    OperatorConfig,
)
from modelpipe.api.v1alpha1 import Reason
from modelpipe.main import main
from modelpipe.manifests import serving_deployment, serving_hash
from modelpipe.observed import JobPhase, Observed
from modelpipe.planning.deadline import ProgressDeadline, missed_deadline, progress_deadline
from modelpipe.planning.outcome import PatchDeployment

ONNX, SKLEARN = ServingRuntime.ONNX, ServingRuntime.SKLEARN
CONFIG = OperatorConfig(progress_deadline_onnx=90, progress_deadline_sklearn=900)
ONNX_DEFAULT = "the operator's default for a verified ONNX model"
SKLEARN_DEFAULT = "the operator's default for a scikit-learn model"
SPEC_FIELD = "spec.serving.progressDeadlineSeconds"


@pytest.mark.parametrize(
    ("spec_seconds", "runtime", "expected"),
    [
        (None, ONNX, ProgressDeadline(90, ONNX_DEFAULT)),
        (None, SKLEARN, ProgressDeadline(900, SKLEARN_DEFAULT)),
        (None, None, ProgressDeadline(900, SKLEARN_DEFAULT)),  # a trainer that did not say
        (30, ONNX, ProgressDeadline(30, SPEC_FIELD)),  # the spec wins, shorter ...
        (3000, ONNX, ProgressDeadline(3000, SPEC_FIELD)),  # ... or longer
        (45, SKLEARN, ProgressDeadline(45, SPEC_FIELD)),
    ],
)
def test_the_deadline_follows_the_runtime_unless_the_spec_sets_one(
    spec_seconds: int | None, runtime: ServingRuntime | None, expected: ProgressDeadline
) -> None:
    serving: dict[str, Any] = {"template": {}}
    if spec_seconds is not None:
        serving["progressDeadlineSeconds"] = spec_seconds
    chosen = progress_deadline(spec=make_spec(serving=serving), runtime=runtime, config=CONFIG)
    assert chosen == expected


def test_a_pipeline_with_its_own_server_command_keeps_the_long_default() -> None:
    own = make_spec(serving={"template": {"command": ["mlserver", "start", "/models"]}})
    chosen = progress_deadline(spec=own, runtime=ONNX, config=CONFIG)
    assert chosen == ProgressDeadline(900, SKLEARN_DEFAULT)


def test_the_unconfigured_defaults_are_short_for_onnx_and_long_for_sklearn() -> None:
    unset = make_spec()
    onnx = progress_deadline(spec=unset, runtime=ONNX, config=OperatorConfig())
    sklearn = progress_deadline(spec=unset, runtime=SKLEARN, config=OperatorConfig())
    assert (onnx.seconds, sklearn.seconds) == (200, 600)
    assert DEFAULT_PROGRESS_DEADLINE_ONNX < DEFAULT_PROGRESS_DEADLINE_SKLEARN


def test_a_users_deployment_is_judged_by_its_own_deadline() -> None:
    """The operator never sets the deadline of a Deployment it does not own."""
    theirs = replace(deployment("v1"), owned=False, progress_deadline_seconds=240)
    said = missed_deadline(spec=make_spec(), record=None, config=CONFIG, deployment=theirs)
    assert said == ProgressDeadline(240, "Deployment iris's own spec.progressDeadlineSeconds")


def rolling_out(runtime: ServingRuntime | None, **spec_serving: Any) -> tuple[Observed, str]:
    """Production serves model one; model two (served by ``runtime``) passed the gate."""
    first_spec = make_spec(serving={"template": {}, **spec_serving})
    world = serving(desired_version(first_spec))
    world = with_(world, spec=first_spec, deployment=deployment(desired_version(first_spec)))
    new_spec = make_spec(dataset={"version": "v2"}, serving={"template": {}, **spec_serving})
    second = desired_version(new_spec)
    world = cycle(with_(world, spec=new_spec))
    done = result({"accuracy": 0.9}, serving_runtime=runtime)
    world = cycle(world, jobs=(job(second, JobPhase.SUCCEEDED, result=done),))
    return world, second


def promotion_deadline(world: Observed) -> int | None:
    patches = [a for a in step(world).actions if isinstance(a, PatchDeployment)]
    assert len(patches) == 1, patches
    seconds: int | None = patches[0].patch["spec"].get("progressDeadlineSeconds")
    return seconds


@pytest.mark.parametrize(
    ("runtime", "spec_serving", "seconds"),
    [
        (ONNX, {}, 200),
        (SKLEARN, {}, 600),
        (None, {}, 600),
        (ONNX, {"progressDeadlineSeconds": 400}, 400),
    ],
)
def test_the_promotion_sets_the_candidates_deadline_on_the_owned_deployment(
    runtime: ServingRuntime | None, spec_serving: dict[str, Any], seconds: int
) -> None:
    world, _ = rolling_out(runtime, **spec_serving)
    assert promotion_deadline(world) == seconds


def test_a_users_deployment_keeps_its_own_deadline_on_promotion() -> None:
    world, _ = rolling_out(ONNX)
    assert world.deployment is not None
    theirs = replace(world.deployment, owned=False)
    users = make_spec(dataset={"version": "v2"}, serving={"deploymentName": "iris"})
    assert promotion_deadline(with_(world, spec=users, deployment=theirs)) is None


@pytest.mark.parametrize(
    ("runtime", "spec_serving", "applied", "says"),
    [
        (ONNX, {}, 200, f"not ready within 200s ({ONNX_DEFAULT}; ProgressDeadlineExceeded"),
        (SKLEARN, {}, 600, f"not ready within 600s ({SKLEARN_DEFAULT}; ProgressDeadlineExc"),
        (ONNX, {"progressDeadlineSeconds": 45}, 45, f"within 45s ({SPEC_FIELD}; ProgressDead"),
        # The operator restarted with other defaults while the rollout ran: the message
        # names the deadline Kubernetes applied, not the one computed now.
        (ONNX, {}, 120, "not ready within 120s (Deployment iris's spec.progressDeadlineSeconds, "
         f"set when the rollout began; {ONNX_DEFAULT} now gives 200s; Progress"),
        # ... or the tenant edited the spec's value: that is what is named.
        (ONNX, {"progressDeadlineSeconds": 45}, 900, "not ready within 900s (Deployment iris's "
         f"spec.progressDeadlineSeconds, set when the rollout began; {SPEC_FIELD} now gives 45s"),
    ],
)  # fmt: skip
def test_the_rollback_says_which_deadline_ran_out_and_where_it_came_from(
    runtime: ServingRuntime, spec_serving: dict[str, Any], applied: int, says: str
) -> None:
    world, second = rolling_out(runtime, **spec_serving)
    world = cycle(world, deployment=deployment(second, ready=False, old_pods=1))
    stuck = deployment(second, ready=False, failed=True, old_pods=1)
    planned = step(with_(world, deployment=replace(stuck, progress_deadline_seconds=applied)))
    assert planned.status.last_run is not None
    assert says in planned.status.last_run.message
    failed = [e for e in planned.events if e.reason == Reason.ROLLOUT_FAILED]
    assert len(failed) == 1 and says in failed[0].message


def test_the_run_record_keeps_the_runtime_the_trainer_reported() -> None:
    world, second = rolling_out(ONNX)
    planned = step(world)
    run = record(planned, second)
    assert run.serving_runtime is ONNX
    assert run.model_dump(by_alias=True)["servingRuntime"] == "onnxruntime"


def test_the_charts_deadlines_reach_the_config() -> None:
    config = OperatorConfig.from_environment(
        {PROGRESS_DEADLINE_ONNX_ENV: "90", PROGRESS_DEADLINE_SKLEARN_ENV: " 900 "}
    )
    assert config == CONFIG
    assert OperatorConfig.from_environment({PROGRESS_DEADLINE_ONNX_ENV: ""}) == OperatorConfig()


@pytest.mark.parametrize("value", ["0", "-30", "4", "1.5", "2m"])
@pytest.mark.parametrize("name", [PROGRESS_DEADLINE_ONNX_ENV, PROGRESS_DEADLINE_SKLEARN_ENV])
def test_the_operator_refuses_a_deadline_it_cannot_run_with(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match=f"{name}='{value}' is not a rollout deadline"):
        OperatorConfig.from_environment({name: value})
    monkeypatch.setenv(name, value)
    assert main(["run", "-A"]) == 2  # refused before it talks to any cluster
    err = capsys.readouterr().err
    assert f"{name}='{value}' is not a rollout deadline: give whole seconds, at least 5" in err
    assert "Traceback" not in err


def test_the_start_up_probe_waits_out_the_longest_deadline() -> None:
    """One pod template for either runtime: a slow scikit-learn start is never restarted
    before its rollout is judged, and a promotion alone never changes the serving hash."""
    made = serving_deployment(
        meta=meta(),
        spec=make_spec(),
        version="v1",
        model_dir="/m",
        config=CONFIG,
        progress_deadline=90,
    )
    assert made["spec"]["progressDeadlineSeconds"] == 90
    probe = made["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] == 900
    unset = serving_deployment(meta=meta(), spec=make_spec(), version="v1", model_dir="/m")
    assert unset["spec"]["progressDeadlineSeconds"] == 600  # canary, shadow: the long one


@pytest.mark.parametrize(
    ("sent", "read"),
    [('"onnxruntime"', ONNX), ('"triton"', None), (None, None), ("[]", None), ("{}", None),
     ("1", None), ("null", None)],
)  # fmt: skip
def test_a_runtime_this_operator_does_not_know_reads_as_not_known(
    sent: str | None, read: ServingRuntime | None
) -> None:
    """The trainer's result is the tenant's output: any JSON there reads, never raises."""
    runtime = "" if sent is None else f',"servingRuntime":{sent}'
    message = f'{{"schemaVersion":"modelpipe.io/trainer-result/v1","outcome":"Succeeded"{runtime}}}'
    assert TrainerResult.from_message(message).serving_runtime is read


def test_only_the_longest_default_deadline_is_in_every_pod_template() -> None:
    """Pinned, as charts/modelpipe/values.yaml warns: the start-up probe waits out the longer
    of the two defaults, so changing that one (or which one is longer) changes the pod
    template, a rolling restart, of every pipeline serving through spec.serving.template
    without its own deadline; the shorter one, and a pipeline that sets
    spec.serving.progressDeadlineSeconds, are left alone."""

    def hashed(config: OperatorConfig, **spec: Any) -> str:
        return serving_hash(meta=meta(), spec=make_spec(**spec), config=config)

    def template(config: OperatorConfig) -> Any:
        made = serving_deployment(
            meta=meta(), spec=make_spec(), version="v1", model_dir="/m", config=config
        )
        return made["spec"]["template"]

    base, pods = hashed(CONFIG), template(CONFIG)
    for config in (
        replace(CONFIG, progress_deadline_sklearn=1200),  # the longest
        replace(CONFIG, progress_deadline_onnx=1000),  # now the longest
    ):
        assert hashed(config) != base and template(config) != pods  # new pods
    shorter = replace(CONFIG, progress_deadline_onnx=120)  # still the shorter
    assert hashed(shorter) == base and template(shorter) == pods
    own = {"template": {}, "progressDeadlineSeconds": 300}
    assert hashed(CONFIG, serving=own) == hashed(
        replace(CONFIG, progress_deadline_sklearn=1200), serving=own
    )
