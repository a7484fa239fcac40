"""How long a rollout may take before it is rolled back: the progress deadline.

    spec.serving.progressDeadlineSeconds set ──▶ that value (this pipeline only)
    unset, candidate verified as ONNX ─────────▶ the operator's onnxruntime default (short)
    unset, scikit-learn or not known ──────────▶ the operator's scikit-learn default (long)
    unset, spec.serving.template.command set ──▶ the long default: the pipeline's own server
                                                 decides how it serves (MLServer, --runtime
                                                 sklearn, ...), not the trainer's verdict

A server on the ONNX path imports neither pandas nor scikit-learn and is ready in
seconds, so a broken rollout of such a model is rolled back in minutes instead of ten;
a model the trainer could not verify (or one trained before it said) keeps the long
default. Both defaults are the platform's (Helm values, ``api.config``): a tenant's
spec value changes its own pipeline's deadline and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelpipe_contract.result import ServingRuntime

from modelpipe.api.config import OperatorConfig
from modelpipe.api.v1alpha1 import ModelPipelineSpec, RunRecord
from modelpipe.observed import ObservedDeployment

SPEC_FIELD = "spec.serving.progressDeadlineSeconds"


@dataclass(frozen=True)
class ProgressDeadline:
    seconds: int
    source: str  # quoted in the rollback's message: which setting gave ``seconds``


def progress_deadline(
    *, spec: ModelPipelineSpec, runtime: ServingRuntime | None, config: OperatorConfig
) -> ProgressDeadline:
    """The deadline of a rollout of a model served by ``runtime`` (None: not known)."""
    if spec.serving.progress_deadline_seconds is not None:
        return ProgressDeadline(spec.serving.progress_deadline_seconds, SPEC_FIELD)
    template = spec.serving.template
    own_server = template is not None and template.command is not None
    if runtime is ServingRuntime.ONNX and not own_server:
        return ProgressDeadline(
            config.progress_deadline_onnx, "the operator's default for a verified ONNX model"
        )
    return ProgressDeadline(
        config.progress_deadline_sklearn, "the operator's default for a scikit-learn model"
    )


def deadline_of(
    *, spec: ModelPipelineSpec, record: RunRecord | None, config: OperatorConfig
) -> ProgressDeadline:
    """The deadline of a rollout of ``record``'s model; without a record, the long one."""
    runtime = record.serving_runtime if record is not None else None
    return progress_deadline(spec=spec, runtime=runtime, config=config)


def missed_deadline(
    *,
    spec: ModelPipelineSpec,
    record: RunRecord | None,
    config: OperatorConfig,
    deployment: ObservedDeployment,
) -> ProgressDeadline:
    """The deadline a rollout that ran out was held to, for its message: always the one
    Kubernetes applied, the Deployment's own ``spec.progressDeadlineSeconds``.

    The operator sets it on a Deployment it owns, so it is named after the setting that
    gave it, unless that now gives another (the operator restarted with other defaults, or
    the spec's value was edited, after the rollout began); a user's Deployment
    (spec.serving.deploymentName) keeps its own.
    """
    applied = deployment.progress_deadline_seconds
    if not deployment.owned:
        return ProgressDeadline(
            applied, f"Deployment {deployment.name}'s own spec.progressDeadlineSeconds"
        )
    chosen = deadline_of(spec=spec, record=record, config=config)
    if chosen.seconds == applied:
        return chosen
    return ProgressDeadline(
        applied,
        f"Deployment {deployment.name}'s spec.progressDeadlineSeconds, set when the rollout "
        f"began; {chosen.source} now gives {chosen.seconds}s",
    )
