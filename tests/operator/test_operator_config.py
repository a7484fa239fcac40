"""The operator's configuration is a value read once at start-up, not the process environment.

Decisions see the chart's settings (trainer image, server image, PriorityClasses) only
through ``OperatorConfig``: the spec is parsed with it and plan() gets it in
``Observed.config``. The environment of the process running plan() changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from tests.operator.builders import (
    NOW,
    desired_version,
    meta,
    observe,
    spec_dict,
    trained,
    with_,
)

from modelpipe.api.config import (
    KUEUE_DEFAULT_QUEUE_ENV,
    KUEUE_ENV,
    KUEUE_PRIORITY_CLASSES_ENV,
    PRIORITY_CLASSES_ENV,
    SERVER_IMAGE_ENV,
    TRAINER_IMAGE_ENV,
    UNCONFIGURED,
    OperatorConfig,
)
from modelpipe.api.v1alpha1 import DEFAULT_TRAINER_IMAGE, ModelPipelineSpec
from modelpipe.inputs import resolve
from modelpipe.layout import GIT_CONTAINER, TRAIN_CONTAINER
from modelpipe.manifests import serving_deployment
from modelpipe.manifests.s3data import FETCH_CONTAINER
from modelpipe.planning import Plan, plan
from modelpipe.planning.outcome import CreateDeployment, CreateJob

CONFIGURED = OperatorConfig(
    trainer_image="registry.local/trainer:1.2",
    server_image="registry.local/server:1.2",
    priority_classes=frozenset({"batch-low", "high"}),
)
# The input hash of builders.spec() under the default trainer image, as computed before
# the configuration became a value: the same inputs must keep their model version.
DEFAULT_HASH = "16332e7ddb616d2e1ca2a678cf6418b8abeeb7a65b54a6d0d7e726498c513224"


def parse(config: OperatorConfig = UNCONFIGURED, **overrides: Any) -> ModelPipelineSpec:
    return ModelPipelineSpec.model_validate(spec_dict(**overrides), context=config)


def input_hash(the_spec: ModelPipelineSpec) -> str:
    inputs = resolve(spec=the_spec, resolved=None, retrain_token=None, previous=None, now="x")
    return inputs.hash


def images(planned: Plan) -> dict[str, str]:
    """Container name -> image, over the Jobs and Deployments the plan creates."""
    out: dict[str, str] = {}
    for action in planned.actions:
        if isinstance(action, CreateJob | CreateDeployment):
            pod = action.manifest["spec"]["template"]["spec"]
            out |= {
                c["name"]: c["image"] for c in [*pod.get("initContainers", []), *pod["containers"]]
            }
    return out


def test_reads_the_charts_variables() -> None:
    config = OperatorConfig.from_environment(
        {
            TRAINER_IMAGE_ENV: "registry.local/trainer:1.2",
            SERVER_IMAGE_ENV: "registry.local/server:1.2",
            PRIORITY_CLASSES_ENV: "batch-low,high",
        }
    )
    assert config == CONFIGURED
    unset = OperatorConfig.from_environment({TRAINER_IMAGE_ENV: "", SERVER_IMAGE_ENV: ""})
    assert unset == UNCONFIGURED == OperatorConfig(trainer_image=DEFAULT_TRAINER_IMAGE)


def test_reads_the_charts_kueue_switch_and_default_queue() -> None:
    assert UNCONFIGURED.kueue and UNCONFIGURED.default_queue is None
    off = OperatorConfig.from_environment(
        {KUEUE_ENV: "false", KUEUE_DEFAULT_QUEUE_ENV: "batch", KUEUE_PRIORITY_CLASSES_ENV: "a,b"}
    )
    assert (off.kueue, off.default_queue) == (False, "batch")
    assert off.workload_priority_classes == {"a", "b"}
    assert OperatorConfig.from_environment({KUEUE_ENV: "true"}).kueue


def test_the_process_environment_reaches_no_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRAINER_IMAGE_ENV, "env.example/trainer:9")
    monkeypatch.setenv(SERVER_IMAGE_ENV, "env.example/server:9")
    monkeypatch.setenv(PRIORITY_CLASSES_ENV, "high")
    the_spec = parse()
    assert the_spec.code.image == DEFAULT_TRAINER_IMAGE
    assert input_hash(the_spec) == DEFAULT_HASH
    with pytest.raises(ValidationError, match=r"priorityClassName high is not allowed"):
        parse(training={"priorityClassName": "high"})
    planned = plan(observe(the_spec), NOW)
    assert set(images(planned).values()) == {DEFAULT_TRAINER_IMAGE}


def test_the_spec_is_parsed_with_the_operators_config() -> None:
    assert parse(CONFIGURED).code.image == "registry.local/trainer:1.2"
    assert "image" not in parse(CONFIGURED).code.model_fields_set  # still the author's omission
    assert parse(CONFIGURED, code={"image": "mine:1"}).code.image == "mine:1"
    placed = parse(CONFIGURED, training={"priorityClassName": "high"})
    assert placed.training.priority_class_name == "high"
    with pytest.raises(ValidationError, match="allowed: batch-low, high"):
        parse(CONFIGURED, serving={"template": {"priorityClassName": "system-cluster-critical"}})


def test_the_input_hash_depends_on_the_image_not_on_where_it_came_from() -> None:
    """Omitted and configured, or named in the spec: the same image, the same model version."""
    assert input_hash(parse()) == DEFAULT_HASH
    assert input_hash(parse(code={"image": DEFAULT_TRAINER_IMAGE})) == DEFAULT_HASH
    configured = parse(CONFIGURED)
    assert input_hash(configured) == input_hash(parse(code={"image": CONFIGURED.trainer_image}))
    assert input_hash(configured) != DEFAULT_HASH  # a new default image retrains


def test_plan_runs_the_operators_containers_in_the_configured_images() -> None:
    the_spec = parse(
        CONFIGURED,
        code={"git": {"url": "file:///repo"}},
        dataset={"uri": "s3://ml-data/iris/train.csv", "version": "versionId:v7"},
    )
    planned = plan(with_(observe(the_spec), config=CONFIGURED), NOW)
    assert images(planned) == {
        FETCH_CONTAINER: CONFIGURED.trainer_image,
        GIT_CONTAINER: CONFIGURED.trainer_image,
        TRAIN_CONTAINER: CONFIGURED.trainer_image,
    }


def test_plan_serves_with_the_configured_server_image() -> None:
    """No image in the pipeline: the server image; an image of its own serves too."""
    config = OperatorConfig(server_image="registry.local/server:1.2")
    passed = with_(trained(desired_version()), config=config)
    (created,) = [a for a in plan(passed, NOW).actions if isinstance(a, CreateDeployment)]
    assert created.manifest["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.local/server:1.2"
    )
    own = parse(config, code={"image": "mine:1"})
    deployment = serving_deployment(
        meta=meta(), spec=own, version="v1", model_dir="/m", config=config
    )
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "mine:1"
