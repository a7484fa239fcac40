"""Manifests: names, ownership, labels, Pod Security "restricted", spelled-out commands."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.operator.builders import meta, spec

from modelpipe.api.v1alpha1 import DEFAULT_TRAINER_IMAGE, Inputs
from modelpipe.inputs import resolve
from modelpipe.manifests import promotion_patch, serving_deployment, serving_service, training_job
from modelpipe_trainer.config import CONFIG_ENV, RunConfig

RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def inputs_for(the_spec: Any) -> Inputs:
    return resolve(
        spec=the_spec, followed=None, retrain_token=None, previous=None, now="2026-01-01T00:00:00Z"
    )


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod.get("initContainers", [])) + list(pod["containers"])


def assert_restricted(pod: dict[str, Any]) -> None:
    assert RESTRICTED_POD.items() <= pod["securityContext"].items()
    assert "fsGroup" in pod["securityContext"]
    for container in containers(pod):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert container["command"], f"{container['name']} must spell out its command"


def test_training_job_identity_and_run_config() -> None:
    the_spec = spec()
    inputs = inputs_for(the_spec)
    job = training_job(
        meta=meta(), spec=the_spec, inputs=inputs, champion_dir="/artifacts/iris/0000aaaa"
    )
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
    assert train["command"] == ["modelpipe-trainer", "train"]
    env = {e["name"]: e.get("value") for e in train["env"]}
    config = RunConfig.model_validate(json.loads(env[CONFIG_ENV]))
    assert (
        config.artifacts_dir == "/artifacts/iris" and config.model_version == inputs.model_version
    )
    assert config.champion_path is None  # no champion gate in this spec
    assert {"name": "artifacts", "mountPath": "/artifacts"} in train["volumeMounts"]
    assert job["spec"]["template"]["metadata"]["labels"] == metadata["labels"]


def test_champion_path_is_the_production_model_dir() -> None:
    the_spec = spec(evaluation={"champion": {"metric": "accuracy"}})
    job = training_job(
        meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir="/artifacts/iris/prod"
    )
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    config = json.loads(next(e["value"] for e in env if e["name"] == CONFIG_ENV))
    assert config["championPath"] == "/artifacts/iris/prod"


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
    job = training_job(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    config = RunConfig.model_validate(
        json.loads(next(e["value"] for e in env if e["name"] == CONFIG_ENV))
    )
    # From the repository's root, whatever directory the trainer runs in.
    assert config.training_config_path == "/workspace/src/conf/train.yaml"
    no_file = spec(code={"revision": "abc", "git": {"url": "file:///repo"}})
    job = training_job(meta=meta(), spec=no_file, inputs=inputs_for(no_file), champion_dir=None)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    config = RunConfig.model_validate(
        json.loads(next(e["value"] for e in env if e["name"] == CONFIG_ENV))
    )
    assert config.training_config_path is None


def _trainer_config(the_spec: Any) -> RunConfig:
    job = training_job(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    return RunConfig.model_validate(
        json.loads(next(e["value"] for e in env if e["name"] == CONFIG_ENV))
    )


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
    job = training_job(meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    config = json.loads(next(e["value"] for e in env if e["name"] == CONFIG_ENV))
    assert config["dataset"]["uri"] == secret_uri
    rotated = inputs_for(spec(dataset={"uri": secret_uri.replace("abc", "xyz")}))
    assert rotated.hash == inputs.hash


def test_operator_configured_images_fill_omitted_image_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELPIPE_TRAINER_IMAGE", "registry.local/trainer:1.2")
    monkeypatch.setenv("MODELPIPE_SERVER_IMAGE", "registry.local/server:1.2")
    the_spec = spec()
    job = training_job(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/trainer:1.2"
    deployment = serving_deployment(
        meta=meta(), spec=the_spec, version="1234abcd", model_dir="/artifacts/iris/1234abcd"
    )
    serve = deployment["spec"]["template"]["spec"]["containers"][0]
    assert serve["image"] == "registry.local/server:1.2"
    pinned = spec(code={"revision": "abc123", "image": "mine:1"})
    assert pinned.code.image == "mine:1"


def test_default_images_without_operator_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELPIPE_TRAINER_IMAGE", raising=False)
    monkeypatch.delenv("MODELPIPE_SERVER_IMAGE", raising=False)
    the_spec = spec()
    assert the_spec.code.image == DEFAULT_TRAINER_IMAGE
    deployment = serving_deployment(
        meta=meta(), spec=the_spec, version="1234abcd", model_dir="/artifacts/iris/1234abcd"
    )
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == DEFAULT_TRAINER_IMAGE
