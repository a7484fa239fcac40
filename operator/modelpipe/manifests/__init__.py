"""Pure functions that build the Kubernetes objects the operator owns, as plain dicts."""

from modelpipe.manifests.job import TrainingRun, training_job, training_run
from modelpipe.manifests.runconfig import job_owner_reference, run_config, run_config_problem
from modelpipe.manifests.serving import (
    promotion_patch,
    serving_deployment,
    serving_hash,
    serving_service,
    template_patch,
)

__all__ = [
    "TrainingRun",
    "job_owner_reference",
    "promotion_patch",
    "run_config",
    "run_config_problem",
    "serving_deployment",
    "serving_hash",
    "serving_service",
    "template_patch",
    "training_job",
    "training_run",
]
