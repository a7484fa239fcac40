"""Render the trainer's RunConfig from a pipeline spec and its resolved inputs."""

from __future__ import annotations

from modelpipe.api.v1alpha1 import Inputs, ModelPipelineSpec
from modelpipe.layout import pipeline_artifacts_dir
from modelpipe_trainer.config import RunConfig


def run_config(
    *,
    pipeline: str,
    spec: ModelPipelineSpec,
    inputs: Inputs,
    dataset_uri: str,
    champion_dir: str | None,
    source_dir: str,
) -> RunConfig:
    """The typed contract the trainer reads from MODELPIPE_RUN_CONFIG.

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
        "evalDataset": dataset.evaluation.model_dump(by_alias=True) if dataset.evaluation else None,
        "schema": dataset.schema_.model_dump(mode="json", by_alias=True, exclude_none=True),
        "estimator": {
            "className": spec.training.estimator.class_name,
            "params": spec.training.estimator.params,
        },
        "seed": spec.training.seed,
        "testSize": spec.training.test_split,
        "artifactsDir": pipeline_artifacts_dir(pipeline),
        "championPath": champion_dir if spec.evaluation.champion else None,
    }
    if spec.code.git is not None and spec.code.git.config_file:
        document["trainingConfigPath"] = f"{source_dir}/{spec.code.git.config_file}"
    if dataset.max_bytes is not None:  # the trainer refuses larger downloads as well
        document["maxDownloadBytes"] = dataset.max_bytes
    return RunConfig.model_validate(document)
