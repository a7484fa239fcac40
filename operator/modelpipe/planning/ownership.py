"""Which serving objects a pipeline may write; anything else is a ``DeploymentConflict``.

A pipeline author must not gain, through the operator, write access to objects of the
namespace they could not edit themselves. So the operator writes:

- with ``spec.serving.template``: the Deployment and Service (and, with
  ``spec.serving.autoscaling``, the HorizontalPodAutoscaler) named after the pipeline,
  only when they do not exist yet (it creates them) or the pipeline controls them (an
  ownerReference with the pipeline's uid and ``controller: true``);
- with ``spec.serving.deploymentName``: the user's Deployment, only when it opted in with
  the annotation ``modelpipe.io/pipeline: <pipeline>`` (whoever may edit the Deployment
  decides which pipeline serves into it).

Anything else found under those names is left exactly as it is: Ready=False
DeploymentConflict, one Warning event, and no write.
"""

from __future__ import annotations

from modelpipe.layout import PIPELINE_ANNOTATION
from modelpipe.observed import Observed

_UNTOUCHED = "the operator changed nothing"


def serving_conflict(observed: Observed) -> str | None:
    """What keeps the operator from writing the serving objects (a message), or ``None``."""
    spec, meta, deployment = observed.spec, observed.metadata, observed.deployment
    if spec is None:
        return None
    if spec.serving.template is None:
        if deployment is None or deployment.opted_in:
            return None
        return (
            f"Deployment {deployment.name} has not opted in to be served by ModelPipeline "
            f"{meta.name}; {_UNTOUCHED}: if it should, annotate it "
            f"{PIPELINE_ANNOTATION}={meta.name} (kubectl annotate deployment "
            f"{deployment.name} {PIPELINE_ANNOTATION}={meta.name})"
        )
    if deployment is not None and not deployment.owned:
        return (
            f"Deployment {deployment.name} already exists and is not owned by ModelPipeline "
            f"{meta.name}; {_UNTOUCHED}: rename the pipeline or remove that Deployment, or "
            f"serve into it with spec.serving.deploymentName (it must then carry the "
            f"annotation {PIPELINE_ANNOTATION}={meta.name})"
        )
    if observed.service_exists and not observed.service_owned:
        return (
            f"Service {meta.name} already exists and is not owned by ModelPipeline "
            f"{meta.name}; {_UNTOUCHED}: rename the pipeline or remove that Service"
        )
    autoscaler = observed.autoscaler
    if spec.serving.autoscaling and autoscaler is not None and not autoscaler.owned:
        return (
            f"HorizontalPodAutoscaler {meta.name} already exists and is not owned by "
            f"ModelPipeline {meta.name}; {_UNTOUCHED}: rename the pipeline, remove that "
            "autoscaler, or drop spec.serving.autoscaling"
        )
    return None
