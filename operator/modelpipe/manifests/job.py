"""The training Job: one per set of inputs, named after their hash, owned by the pipeline.

Pod layout::

    [git-clone]   init, optional: clone spec.code.git.url at the revision into /workspace/src
    [code-test]   init, optional: run spec.code.test.command; failure -> CodeValidationFailed
    train         modelpipe-trainer train --config FILE, the RunConfig from a ConfigMap named
                  like the Job (mounted read-only), result in the termination message

With ``spec.artifacts.s3`` train becomes the last init container and ``upload-model`` the
pod's container (``modelpipe.manifests.s3model``).

Exit codes the trainer uses for deterministic failures (bad config, bad data, failed
fit, unwritable artifacts) and a failed code test fail the Job at once through a pod
failure policy; only unexpected crashes (exit 1) use the backoff limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelpipe_contract.result import ExitCode

from modelpipe.api.config import UNCONFIGURED, OperatorConfig
from modelpipe.api.v1alpha1 import Inputs, Metadata, ModelPipelineSpec
from modelpipe.layout import (
    ARTIFACTS_MOUNT,
    ARTIFACTS_VOLUME,
    CODE_TEST_CONTAINER,
    INPUT_HASH_LABEL,
    KUEUE_PRIORITY_LABEL,
    KUEUE_QUEUE_LABEL,
    MODEL_VERSION_LABEL,
    QUEUE_ASKED_ANNOTATION,
    TRAIN_CONTAINER,
    job_name,
    model_dir,
)
from modelpipe.manifests.common import (
    HOME_ENV,
    TMP_MOUNT,
    TMP_VOLUME,
    Manifest,
    base_labels,
    container_security_context,
    owner_reference,
    placement,
    pod_security_context,
    resources,
    service_account,
)
from modelpipe.manifests.gitclone import credentials_volume, git_clone_container
from modelpipe.manifests.pvcdata import dataset_claim, trainer_uri
from modelpipe.manifests.runconfig import (
    RUN_CONFIG_MOUNT,
    RUN_CONFIG_PATH,
    RUN_CONFIG_VOLUME,
    run_config,
    run_config_map,
    run_config_volume,
)
from modelpipe.manifests.s3data import TRAIN, fetch_parts, local_uri
from modelpipe.manifests.s3model import (
    FETCH_CHAMPION_CONTAINER,
    MODEL_URI_ANNOTATION,
    REFUSED_EXIT,
    UPLOAD_CONTAINER,
    fetch_container,
    store_volumes,
    upload_base,
    upload_container,
)

WORKSPACE = "/workspace"
SOURCE_DIR = f"{WORKSPACE}/src"
TRAINER_COMMAND = ["modelpipe-trainer", "train"]
_DETERMINISTIC_EXITS = sorted(int(c) for c in ExitCode if c != ExitCode.OK)


@dataclass(frozen=True)
class TrainingRun:
    """What one run creates, in this order: the run config's ConfigMap, then the Job."""

    job: Manifest
    config_map: Manifest


def training_job(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    inputs: Inputs,
    champion_dir: str | None,
    dataset_uri: str | None = None,
    config: OperatorConfig = UNCONFIGURED,
    champion_uri: str | None = None,
) -> Manifest:
    """The Job alone, for readers that do not need its ConfigMap."""
    return training_run(
        meta=meta,
        spec=spec,
        inputs=inputs,
        champion_dir=champion_dir,
        dataset_uri=dataset_uri,
        config=config,
        champion_uri=champion_uri,
    ).job


def training_run(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    inputs: Inputs,
    champion_dir: str | None,
    dataset_uri: str | None = None,
    config: OperatorConfig = UNCONFIGURED,
    champion_uri: str | None = None,
) -> TrainingRun:
    """The Job and run config for these inputs; ``dataset_uri`` is the unredacted URI.

    The operator's own containers (git-clone, fetch-data, and with ``spec.artifacts.s3``
    fetch-champion and upload-model) run ``config.trainer_image``; ``champion_uri`` is where
    the champion (at ``champion_dir``) is downloaded from.
    """
    name = job_name(pipeline=meta.name, version=inputs.model_version)
    labels = {
        **base_labels(meta.name),
        MODEL_VERSION_LABEL: inputs.model_version,
        INPUT_HASH_LABEL: inputs.hash[:63],
    }
    trainer_config = run_config(
        pipeline=meta.name,
        spec=spec,
        inputs=inputs,
        dataset_uri=trainer_uri(
            local_uri(dataset_uri or spec.dataset.uri, role=TRAIN), artifacts_pvc=spec.artifacts.pvc
        ),
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
            "spec": _pod(
                spec,
                inputs,
                name,
                dataset_uri=dataset_uri or spec.dataset.uri,
                pipeline=meta.name,
                namespace=meta.namespace,
                helper_image=config.trainer_image,
                champion=(champion_dir, champion_uri),
            ),
        },
    }
    if training.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = training.ttl_seconds_after_finished
    job_labels = dict(labels)
    if training.queue_name is not None:
        # Kueue admits it: created suspended, it starts only when Kueue unsuspends it.
        # On the Job alone: a queue-name label on the pods would hand them to Kueue's pod
        # integration as well.
        job_labels[KUEUE_QUEUE_LABEL] = training.queue_name
        job_spec["suspend"] = True
        if training.workload_priority_class_name is not None:  # one the platform allows
            job_labels[KUEUE_PRIORITY_LABEL] = training.workload_priority_class_name
    job: Manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta.namespace,
            "labels": job_labels,
            "annotations": {
                "modelpipe.io/code-revision": inputs.code_revision,
                "modelpipe.io/dataset-version": inputs.dataset_version,
                QUEUE_ASKED_ANNOTATION: training.queue_name or "",
            },
            "ownerReferences": [owner_reference(meta)],
        },
        "spec": job_spec,
    }
    s3 = spec.artifacts.s3
    if s3 is not None:
        base = upload_base(
            s3, namespace=meta.namespace, pipeline=meta.name, version=inputs.model_version
        )
        job["metadata"]["annotations"][MODEL_URI_ANNOTATION] = base
    return TrainingRun(job=job, config_map=run_config_map(job=job, config=trainer_config))


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
    if spec.artifacts.s3 is not None:
        rules.append(
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": UPLOAD_CONTAINER,
                    "operator": "In",
                    "values": [REFUSED_EXIT],
                },
            }
        )
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


def _pod(
    spec: ModelPipelineSpec,
    inputs: Inputs,
    name: str,
    *,
    dataset_uri: str,
    pipeline: str,
    namespace: str,
    helper_image: str,
    champion: tuple[str | None, str | None],
) -> Manifest:
    volumes = [*store_volumes(spec, read_only=False), run_config_volume(name), TMP_VOLUME]
    mounts = [{"name": ARTIFACTS_VOLUME, "mountPath": ARTIFACTS_MOUNT}, TMP_MOUNT]
    if spec.code.git is not None:
        volumes.append({"name": "workspace", "emptyDir": {}})
        mounts.append({"name": "workspace", "mountPath": WORKSPACE})
        secret = credentials_volume(spec.code.git)
        volumes += [secret] if secret else []
    claim = dataset_claim(spec.dataset.uri, artifacts_pvc=spec.artifacts.pvc)
    volumes += [claim[0]] if claim else []
    config_mount = {"name": RUN_CONFIG_VOLUME, "mountPath": RUN_CONFIG_MOUNT, "readOnly": True}
    fetch = fetch_parts(
        spec, dataset_uri=dataset_uri, dataset_version=inputs.dataset_version, image=helper_image
    )
    if fetch is not None:
        volumes += fetch[0]
    train: Manifest = {
        "name": TRAIN_CONTAINER,
        "image": spec.code.image,
        "command": [*TRAINER_COMMAND, "--config", RUN_CONFIG_PATH],
        "env": [HOME_ENV],
        "volumeMounts": [
            *mounts,
            *([claim[1]] if claim else []),
            *([fetch[1]] if fetch else []),
            config_mount,
        ],
        "resources": resources(spec.training.resources),
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "securityContext": container_security_context(),
        **_workdir(spec),
    }
    init = [
        *([fetch[2]] if fetch else []),
        *_init_containers(spec, inputs, mounts, helper_image=helper_image),
    ]
    containers = [train]
    s3 = spec.artifacts.s3
    if s3 is not None:  # train first, then the upload, which alone holds the keys
        base = upload_base(s3, namespace=namespace, pipeline=pipeline, version=inputs.model_version)
        folder = model_dir(pipeline=pipeline, version=inputs.model_version)
        upload = upload_container(s3, base=base, model_dir=folder, image=helper_image)
        init, containers = [*init, train], [upload]
        champion_dir, champion_uri = champion
        if champion_dir and champion_uri:
            fetch_champion = fetch_container(
                s3,
                name=FETCH_CHAMPION_CONTAINER,
                model_uri=champion_uri,
                model_dir=champion_dir,
                image=helper_image,
            )
            init.insert(0, fetch_champion)
    pod: Manifest = {
        "restartPolicy": "Never",
        "securityContext": pod_security_context(),
        "volumes": volumes,
        "initContainers": init,
        "containers": containers,
    }
    pod |= service_account(spec.training.service_account_name)
    pod |= placement(spec.training, pods=base_labels(pipeline))
    return pod


def _workdir(spec: ModelPipelineSpec) -> Manifest:
    if spec.code.git is None:
        return {}
    path = spec.code.git.path.strip("/")
    return {"workingDir": SOURCE_DIR if path in ("", ".") else f"{SOURCE_DIR}/{path}"}


def _init_containers(
    spec: ModelPipelineSpec, inputs: Inputs, mounts: list[Manifest], *, helper_image: str
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
                image=helper_image,
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
