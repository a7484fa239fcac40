"""Manifests: names, ownership, labels, Pod Security "restricted", spelled-out commands."""

from __future__ import annotations

import json
from typing import Any

import pytest
from modelpipe_contract.runconfig import RunConfig
from tests.operator.builders import meta, spec

from modelpipe.api.v1alpha1 import DEFAULT_TRAINER_IMAGE, Inputs
from modelpipe.inputs import resolve
from modelpipe.manifests import (
    TrainingRun,
    promotion_patch,
    run_config_problem,
    serving_deployment,
    serving_service,
    training_job,
    training_run,
)

RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def inputs_for(the_spec: Any) -> Inputs:
    return resolve(
        spec=the_spec, resolved=None, retrain_token=None, previous=None, now="2026-01-01T00:00:00Z"
    )


def config_of(run: TrainingRun) -> RunConfig:
    """The run config as the train container reads it: the ConfigMap's file."""
    return RunConfig.model_validate_json(run.config_map["data"]["run-config.json"])


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod.get("initContainers", [])) + list(pod["containers"])


def assert_restricted(pod: dict[str, Any]) -> None:
    assert RESTRICTED_POD.items() <= pod["securityContext"].items()
    assert "fsGroup" in pod["securityContext"]
    for container in containers(pod):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        # Nothing writes into the image; HOME and tempfile get a pod-local /tmp.
        assert context["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert container["command"], f"{container['name']} must spell out its command"
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]


def test_training_job_identity_and_run_config() -> None:
    the_spec = spec()
    inputs = inputs_for(the_spec)
    run = training_run(
        meta=meta(), spec=the_spec, inputs=inputs, champion_dir="/artifacts/iris/0000aaaa"
    )
    job = run.job
    metadata = job["metadata"]
    assert metadata["name"] == f"iris-{inputs.model_version}"
    assert (
        metadata["ownerReferences"][0]["uid"] == "uid-1"
        and metadata["ownerReferences"][0]["controller"]
    )
    assert metadata["labels"]["modelpipe.io/pipeline"] == "iris"
    assert metadata["labels"]["modelpipe.io/model-version"] == inputs.model_version
    assert inputs.hash.startswith(metadata["labels"]["modelpipe.io/input-hash"])
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert_restricted(pod)
    train = pod["containers"][0]
    path = "/var/run/modelpipe/run-config/run-config.json"
    assert train["command"] == ["modelpipe-trainer", "train", "--config", path]
    config = config_of(run)
    assert (
        config.artifacts_dir == "/artifacts/iris" and config.model_version == inputs.model_version
    )
    assert config.champion_path is None  # no champion gate in this spec
    assert {"name": "artifacts", "mountPath": "/artifacts"} in train["volumeMounts"]
    assert job["spec"]["template"]["metadata"]["labels"] == metadata["labels"]


def test_champion_path_is_the_production_model_dir() -> None:
    the_spec = spec(evaluation={"champion": {"metric": "accuracy"}})
    run = training_run(
        meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir="/artifacts/iris/prod"
    )
    assert config_of(run).champion_path == "/artifacts/iris/prod"
    assert config_of(run).significance is None


def test_the_significance_test_goes_to_the_trainer_with_the_champion_metric() -> None:
    champion = {
        "metric": "f1_macro",
        "minImprovement": 0.01,
        "significance": {"test": "pairedBootstrap", "alpha": 0.01, "resamples": 500},
    }
    the_spec = spec(evaluation={"champion": champion})
    run = training_run(
        meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir="/artifacts/iris/prod"
    )
    sent = config_of(run).significance
    assert sent is not None
    assert sent.model_dump(mode="json", by_alias=True) == {
        "test": "pairedBootstrap",
        "metric": "f1_macro",
        "minImprovement": 0.01,
        "alpha": 0.01,
        "resamples": 500,
    }


def test_git_clone_and_code_test_init_containers() -> None:
    the_spec = spec(
        code={
            "revision": "abc",
            "git": {"url": "file:///repo", "path": "ml"},
            "test": {"command": ["python", "-m", "pytest", "-q"]},
        }
    )
    job = training_job(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    pod = job["spec"]["template"]["spec"]
    names = [c["name"] for c in pod["initContainers"]]
    assert names == ["git-clone", "code-test"]
    clone = pod["initContainers"][0]
    assert {"name": "GIT_URL", "value": "file:///repo"} in clone[
        "env"
    ]  # passed as data, never as shell text
    assert "file:///repo" not in " ".join(clone["command"])
    assert pod["initContainers"][1]["workingDir"] == "/workspace/src/ml"
    assert pod["containers"][0]["workingDir"] == "/workspace/src/ml"
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert any(r.get("onExitCodes", {}).get("containerName") == "code-test" for r in rules)
    assert_restricted(pod)


def test_git_config_file_reaches_the_trainer_from_the_checkout() -> None:
    git = {"url": "file:///repo", "path": "ml", "configFile": "conf/train.yaml"}
    the_spec = spec(code={"revision": "abc", "git": git})
    run = training_run(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    # From the repository's root, whatever directory the trainer runs in.
    assert config_of(run).training_config_path == "/workspace/src/conf/train.yaml"
    no_file = spec(code={"revision": "abc", "git": {"url": "file:///repo"}})
    run = training_run(meta=meta(), spec=no_file, inputs=inputs_for(no_file), champion_dir=None)
    assert config_of(run).training_config_path is None


def _trainer_config(the_spec: Any) -> RunConfig:
    inputs = inputs_for(the_spec)
    return config_of(training_run(meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None))


def test_null_values_reach_the_trainer() -> None:
    """Unset, the trainer's default (only the empty field) applies and no input hash changes."""
    schema = {"target": "species", "features": [{"name": "sepal_length"}]}
    plain = spec(dataset={"schema": schema})
    tokens = spec(dataset={"schema": {**schema, "nullValues": ["", "n/a"]}})
    assert _trainer_config(plain).data_schema.null_values == [""]
    assert _trainer_config(tokens).data_schema.null_values == ["", "n/a"]
    assert "nullValues" not in plain.dataset.schema_.model_dump(by_alias=True, exclude_none=True)
    assert inputs_for(plain).hash != inputs_for(tokens).hash  # how the data reads changed


@pytest.mark.parametrize(("deadline", "threshold"), [(None, 120), (30, 6), (31, 7)])
def test_a_slow_start_gets_the_whole_deadline_before_a_restart(
    deadline: int | None, threshold: int
) -> None:
    serving: dict[str, Any] = {"template": {}}
    if deadline is not None:
        serving["progressDeadlineSeconds"] = deadline
    deployment = serving_deployment(
        meta=meta(), spec=spec(serving=serving), version="v", model_dir="/m"
    )
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    startup, liveness = container["startupProbe"], container["livenessProbe"]
    assert startup["httpGet"]["path"] == liveness["httpGet"]["path"] == "/v2/health/live"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= (deadline or 600)
    assert startup["failureThreshold"] == threshold
    assert liveness["failureThreshold"] * liveness["periodSeconds"] <= 60


def test_serving_deployment_and_service() -> None:
    the_spec = spec(
        serving={"template": {"port": 9000}, "replicas": 2, "progressDeadlineSeconds": 30}
    )
    deployment = serving_deployment(
        meta=meta(), spec=the_spec, version="1234abcd", model_dir="/artifacts/iris/1234abcd"
    )
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "ModelPipeline"
    assert (
        deployment["spec"]["replicas"] == 2 and deployment["spec"]["progressDeadlineSeconds"] == 30
    )
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"]["modelpipe.io/model-version"] == "1234abcd"
    pod = template["spec"]
    assert_restricted(pod)
    serve = pod["containers"][0]
    assert serve["command"] == ["modelpipe-trainer", "serve"]
    env = {e["name"]: e for e in serve["env"]}
    assert env["MODEL_DIR"]["value"] == "/artifacts/iris/1234abcd"
    assert env["MODEL_VERSION"]["value"] == "1234abcd" and env["MODEL_NAME"]["value"] == "iris"
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert serve["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    service = serving_service(meta=meta(), spec=the_spec)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == 9000


def test_promotion_patch_touches_only_model_fields() -> None:
    patch = promotion_patch(
        pipeline="iris", container="web", version="v9", model_dir="/artifacts/iris/v9"
    )
    container = patch["spec"]["template"]["spec"]["containers"][0]
    assert set(container) == {"name", "env"} and container["name"] == "web"
    assert patch["metadata"]["labels"] == {"modelpipe.io/pipeline": "iris"}
    assert patch["spec"]["template"]["metadata"]["annotations"] == {
        "modelpipe.io/model-version": "v9"
    }


def test_credentials_stay_out_of_status_but_reach_the_pod() -> None:
    secret_uri = "https://user:hunter2@data.example/iris.csv?version=3&token=abc"
    the_spec = spec(dataset={"uri": secret_uri})
    inputs = inputs_for(the_spec)
    assert "hunter2" not in inputs.dataset_uri and "abc" not in inputs.dataset_uri
    assert inputs.dataset_uri == "https://data.example/iris.csv?version=3&token=REDACTED"
    run = training_run(meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None)
    assert config_of(run).dataset.uri == secret_uri
    assert secret_uri not in json.dumps(run.job)  # the Job (and its pods) do not show it
    rotated = inputs_for(spec(dataset={"uri": secret_uri.replace("abc", "xyz")}))
    assert rotated.hash == inputs.hash


def test_default_images_without_operator_configuration() -> None:
    """Configured images: tests/operator/test_operator_config.py."""
    the_spec = spec()
    assert the_spec.code.image == DEFAULT_TRAINER_IMAGE
    deployment = serving_deployment(
        meta=meta(), spec=the_spec, version="1234abcd", model_dir="/artifacts/iris/1234abcd"
    )
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == DEFAULT_TRAINER_IMAGE


def test_run_config_is_a_file_from_a_config_map_named_like_the_job() -> None:
    the_spec = spec(code={"revision": "abc", "git": {"url": "file:///repo"}})
    run = training_run(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    job, config_map = run.job, run.config_map
    assert config_map["metadata"]["name"] == job["metadata"]["name"]
    assert config_map["metadata"]["namespace"] == job["metadata"]["namespace"]
    assert config_map["metadata"]["labels"] == job["metadata"]["labels"]
    # Owned by the pipeline until the Job exists (then the executor hands it to the Job).
    assert config_map["metadata"]["ownerReferences"] == job["metadata"]["ownerReferences"]
    pod = job["spec"]["template"]["spec"]
    volume = {
        "name": "run-config",
        "configMap": {"name": job["metadata"]["name"], "defaultMode": 0o440},
    }
    assert volume in pod["volumes"]
    mount = {"name": "run-config", "mountPath": "/var/run/modelpipe/run-config", "readOnly": True}
    train, *_ = pod["containers"]
    assert mount in train["volumeMounts"]
    assert all(mount not in c["volumeMounts"] for c in pod["initContainers"])
    assert [e["name"] for e in train["env"]] == ["HOME"]


def large_schema() -> dict[str, Any]:
    """An admissible schema whose run config is over 128 KiB: 1024 allowedValues of 127 chars."""
    values = ["a", *(f"{i:04d}{'v' * 123}" for i in range(1023))]
    tag = {"name": "tag", "kind": "categorical", "allowedValues": values}
    return {"target": "species", "features": [{"name": "sepal_length"}, tag]}


def test_a_large_spec_stays_out_of_the_container_environment() -> None:
    """Linux refuses to exec with one environment string over 128 KiB (exit 128 on a node)."""
    the_spec = spec(dataset={"schema": large_schema()})
    run = training_run(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    assert len(run.config_map["data"]["run-config.json"]) > 128 * 1024
    for container in containers(run.job["spec"]["template"]["spec"]):
        for variable in container.get("env", []):
            assert len(str(variable.get("value", ""))) < 4096, variable["name"]
    assert len(json.dumps(run.job)) < 16_384
    (tag,) = [f for f in config_of(run).data_schema.features if f.name == "tag"]
    assert tag.allowed_values is not None and len(tag.allowed_values) == 1024
    assert run_config_problem(run.config_map) is None


def test_a_run_config_over_a_config_map_s_limit_is_a_problem_in_words() -> None:
    run = training_run(meta=meta(), spec=spec(), inputs=inputs_for(spec()), champion_dir=None)
    assert run_config_problem(run.config_map) is None
    huge = {**run.config_map, "data": {"run-config.json": "x" * (1024 * 1024 + 1)}}
    problem = run_config_problem(huge)
    assert problem is not None and "1048577 bytes" in problem and "spec.training" in problem
