"""Pure functions that build the Kubernetes objects the operator owns, as plain dicts."""

from modelpipe.manifests.job import training_job
from modelpipe.manifests.runconfig import run_config
from modelpipe.manifests.serving import (
    promotion_patch,
    serving_deployment,
    serving_hash,
    serving_service,
    template_patch,
)

__all__ = [
    "promotion_patch",
    "run_config",
    "serving_deployment",
    "serving_hash",
    "serving_service",
    "template_patch",
    "training_job",
]
