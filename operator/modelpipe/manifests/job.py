"""The training Job: one per set of inputs, named after their hash, owned by the pipeline.

Pod layout::

    [git-clone]   init, optional: clone spec.code.git.url at the revision into /workspace/src
    [code-test]   init, optional: run spec.code.test.command; failure -> CodeValidationFailed
    train         modelpipe-trainer train, RunConfig in MODELPIPE_RUN_CONFIG, result in
                  the termination message

Exit codes the trainer uses for deterministic failures (bad config, bad data, failed
fit, unwritable artifacts) and a failed code test fail the Job at once through a pod
failure policy; only unexpected crashes (exit 1) use the backoff limit.
"""

from __future__ import annotations

from modelpipe.api.v1alpha1 import Inputs, Metadata, ModelPipelineSpec
from modelpipe.layout import (
    ARTIFACTS_MOUNT,
    ARTIFACTS_VOLUME,
    CODE_TEST_CONTAINER,
    INPUT_HASH_LABEL,
    MODEL_VERSION_LABEL,
    TRAIN_CONTAINER,
    job_name,
)
from modelpipe.manifests.common import (
    HOME_ENV,
    Manifest,
    artifacts_volume,
    base_labels,
    container_security_context,
    owner_reference,
    pod_security_context,
    resources,
)
from modelpipe.manifests.datasetclaim import dataset_claim, trainer_uri
from modelpipe.manifests.gitclone import credentials_volume, git_clone_container
from modelpipe.manifests.runconfig import run_config
from modelpipe_trainer.config import CONFIG_ENV
from modelpipe_trainer.contract import ExitCode

WORKSPACE = "/workspace"
SOURCE_DIR = f"{WORKSPACE}/src"
TRAINER_COMMAND = ["modelpipe-trainer", "train"]
_DETERMINISTIC_EXITS = sorted(int(c) for c in ExitCode if c != ExitCode.OK)


def training_job(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    inputs: Inputs,
    champion_dir: str | None,
    dataset_uri: str | None = None,
) -> Manifest:
    """The Job manifest for these inputs; ``dataset_uri`` is the unredacted URI."""
    labels = {
        **base_labels(meta.name),
        MODEL_VERSION_LABEL: inputs.model_version,
        INPUT_HASH_LABEL: inputs.hash[:63],
    }
    config = run_config(
        pipeline=meta.name,
        spec=spec,
        inputs=inputs,
        dataset_uri=trainer_uri(dataset_uri or spec.dataset.uri, artifacts_pvc=spec.artifacts.pvc),
        champion_dir=champion_dir,
        source_dir=SOURCE_DIR,
    )
    training = spec.training
    job_spec: Manifest = {
        "backoffLimit": training.backoff_limit,
        "activeDeadlineSeconds": training.active_deadline_seconds,
        "podFailurePolicy": {"rules": _failure_rules(spec)},
        "template": {
            "metadata": {"labels": labels},
            "spec": _pod(spec, inputs, config.model_dump_json(by_alias=True)),
        },
    }
    if training.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = training.ttl_seconds_after_finished
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(pipeline=meta.name, version=inputs.model_version),
            "namespace": meta.namespace,
            "labels": labels,
            "annotations": {
                "modelpipe.io/code-revision": inputs.code_revision,
                "modelpipe.io/dataset-version": inputs.dataset_version,
            },
            "ownerReferences": [owner_reference(meta)],
        },
        "spec": job_spec,
    }


def _failure_rules(spec: ModelPipelineSpec) -> list[Manifest]:
    rules: list[Manifest] = [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {
            "action": "FailJob",
            "onExitCodes": {
                "containerName": TRAIN_CONTAINER,
                "operator": "In",
                "values": _DETERMINISTIC_EXITS,
            },
        },
    ]
    if spec.code.test is not None:
        rules.append(
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": CODE_TEST_CONTAINER,
                    "operator": "NotIn",
                    "values": [0],
                },
            }
        )
    return rules


def _pod(spec: ModelPipelineSpec, inputs: Inputs, config_json: str) -> Manifest:
    volumes = [artifacts_volume(spec.artifacts.pvc, read_only=False)]
    mounts = [{"name": ARTIFACTS_VOLUME, "mountPath": ARTIFACTS_MOUNT}]
    if spec.code.git is not None:
        volumes.append({"name": "workspace", "emptyDir": {}})
        mounts.append({"name": "workspace", "mountPath": WORKSPACE})
        secret = credentials_volume(spec.code.git)
        volumes += [secret] if secret else []
    claim = dataset_claim(spec.dataset.uri, artifacts_pvc=spec.artifacts.pvc)
    volumes += [claim[0]] if claim else []
    train: Manifest = {
        "name": TRAIN_CONTAINER,
        "image": spec.code.image,
        "command": TRAINER_COMMAND,
        "env": [{"name": CONFIG_ENV, "value": config_json}, HOME_ENV],
        "volumeMounts": mounts + ([claim[1]] if claim else []),
        "resources": resources(spec.training.resources),
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "securityContext": container_security_context(),
        **_workdir(spec),
    }
    pod: Manifest = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "volumes": volumes,
        "initContainers": _init_containers(spec, inputs, mounts),
        "containers": [train],
    }
    if spec.training.service_account_name:
        pod["serviceAccountName"] = spec.training.service_account_name
    return pod


def _workdir(spec: ModelPipelineSpec) -> Manifest:
    if spec.code.git is None:
        return {}
    path = spec.code.git.path.strip("/")
    return {"workingDir": SOURCE_DIR if path in ("", ".") else f"{SOURCE_DIR}/{path}"}


def _init_containers(
    spec: ModelPipelineSpec, inputs: Inputs, mounts: list[Manifest]
) -> list[Manifest]:
    containers: list[Manifest] = []
    code = spec.code
    if code.git is not None:
        # The resolved revision: pinned in the spec, or the commit git.ref resolved to.
        containers.append(
            git_clone_container(
                git=code.git,
                revision=inputs.code_revision,
                source_dir=SOURCE_DIR,
                mounts=mounts,
            )
        )
    if code.test is not None:
        containers.append(
            {
                "name": CODE_TEST_CONTAINER,
                "image": code.test.image or code.image,
                "command": list(code.test.command),
                "env": [HOME_ENV],
                "volumeMounts": mounts,
                # The end of the test's output becomes the failure message in status.
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "securityContext": container_security_context(),
                **_workdir(spec),
            }
        )
    return containers
