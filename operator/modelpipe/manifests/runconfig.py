"""Render the trainer's RunConfig from a pipeline spec and its resolved inputs, and the
ConfigMap that hands it to the train container as a file."""

from __future__ import annotations

from modelpipe_contract.runconfig import RunConfig

from modelpipe.api.v1alpha1 import Inputs, ModelPipelineSpec
from modelpipe.layout import pipeline_artifacts_dir
from modelpipe.manifests.common import Manifest
from modelpipe.manifests.s3data import EVALUATION, local_uri

RUN_CONFIG_VOLUME = "run-config"
RUN_CONFIG_MOUNT = "/var/run/modelpipe/run-config"
RUN_CONFIG_KEY = "run-config.json"
RUN_CONFIG_PATH = f"{RUN_CONFIG_MOUNT}/{RUN_CONFIG_KEY}"
# The apiserver refuses a ConfigMap whose data exceeds 1 MiB.
MAX_RUN_CONFIG_BYTES = 1024 * 1024


def run_config(
    *,
    pipeline: str,
    spec: ModelPipelineSpec,
    inputs: Inputs,
    dataset_uri: str,
    champion_dir: str | None,
    source_dir: str,
) -> RunConfig:
    """The typed contract the trainer reads from ``--config RUN_CONFIG_PATH``.

    ``source_dir`` is where the git-clone init container checks the repository out.
    """
    dataset = spec.dataset
    document = {
        "pipeline": pipeline,
        "modelVersion": inputs.model_version,
        "codeRevision": inputs.code_revision,
        "task": spec.training.task.value,
        "dataset": {
            "uri": dataset_uri,
            "version": inputs.dataset_version,
            "format": dataset.format,
        },
        "evalDataset": {
            **dataset.evaluation.model_dump(by_alias=True),
            "uri": local_uri(dataset.evaluation.uri, role=EVALUATION),
        }
        if dataset.evaluation
        else None,
        "schema": dataset.schema_.model_dump(mode="json", by_alias=True, exclude_none=True),
        "estimator": {
            "className": spec.training.estimator.class_name,
            "params": spec.training.estimator.params,
        },
        "seed": spec.training.seed,
        "testSize": spec.training.test_split,
        "artifactsDir": pipeline_artifacts_dir(pipeline),
        "championPath": champion_dir if spec.evaluation.champion else None,
        # For report.html only; the operator's gate decides.
        "thresholds": [
            t.model_dump(mode="json", exclude_none=True) for t in spec.evaluation.thresholds
        ],
    }
    champion = spec.evaluation.champion
    if champion is not None and champion.significance is not None:
        document["significance"] = {
            **champion.significance.model_dump(mode="json", by_alias=True),
            "metric": champion.metric,
            "minImprovement": champion.min_improvement,
        }
    if spec.code.git is not None and spec.code.git.config_file:
        document["trainingConfigPath"] = f"{source_dir}/{spec.code.git.config_file}"
    if dataset.max_bytes is not None:  # the trainer refuses larger downloads as well
        document["maxDownloadBytes"] = dataset.max_bytes
    return RunConfig.model_validate(document)


def run_config_map(*, job: Manifest, config: RunConfig) -> Manifest:
    """The run config as a file: a ConfigMap named like its Job, mounted read-only.

    An environment variable is limited to 128 KiB (larger ones fail the container's
    exec with exit 128), a ConfigMap holds 1 MiB. It is created before the Job, owned by
    the pipeline; once the Job exists the executor makes the Job its owner
    (:func:`job_owner_reference`), so it goes away with the Job (history pruning, TTL).
    """
    meta = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta["labels"]),
            "ownerReferences": list(meta["ownerReferences"]),
        },
        "data": {RUN_CONFIG_KEY: config.model_dump_json(by_alias=True)},
    }


def run_config_volume(job_name: str) -> Manifest:
    """Owner- and group-readable (the pod's fsGroup): it carries the unredacted dataset URI."""
    return {
        "name": RUN_CONFIG_VOLUME,
        "configMap": {"name": job_name, "defaultMode": 0o440},
    }


def run_config_problem(config_map: Manifest) -> str | None:
    """Why the apiserver would refuse this ConfigMap (too large), in the operator's words."""
    size = sum(len(value.encode()) for value in config_map["data"].values())
    if size <= MAX_RUN_CONFIG_BYTES:
        return None
    return (
        f"the run configuration rendered from the spec is {size} bytes, more than the "
        f"{MAX_RUN_CONFIG_BYTES} a ConfigMap holds: shrink spec.training.estimator.params "
        "or spec.dataset.schema"
    )


def job_owner_reference(*, name: str, uid: str) -> Manifest:
    """The training Job as the run config's owner: garbage-collected with the Job."""
    return {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid, "controller": True}
