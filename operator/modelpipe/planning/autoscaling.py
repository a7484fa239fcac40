"""The serving Deployment's autoscaler: created, kept to the spec, removed when dropped.

    spec asks, none found ──create──▶ owned HPA ──spec edited (hash differs)──▶ merge patch
                                          │
                           serving.autoscaling removed
                                          ▼
                           delete (that uid only); serving.replicas applies again

Only an autoscaler the pipeline controls is written; one of that name that is not its
own is a ``DeploymentConflict`` (planning.ownership) while the spec asks for one, and
left alone otherwise.
"""

from __future__ import annotations

from modelpipe.api.v1alpha1 import Reason
from modelpipe.api.v1alpha1.autoscaling import Autoscaling
from modelpipe.manifests.autoscaling import autoscaler_hash, autoscaler_patch, serving_autoscaler
from modelpipe.planning.draft import NOTHING, Decided, Part, emit
from modelpipe.planning.outcome import (
    CreateAutoscaler,
    DeleteAutoscaler,
    EventType,
    UpdateAutoscaler,
)


def converge_autoscaler(d: Decided) -> Part:
    """Bring the pipeline's autoscaler to spec.serving.autoscaling (none when it is absent)."""
    meta, found, scaling = d.obs.metadata, d.obs.autoscaler, d.spec.serving.autoscaling
    desired = serving_autoscaler(meta=meta, spec=d.spec)
    if found is not None and not found.owned:
        return NOTHING  # not ours: planning.ownership has blocked serving if the spec wants one
    if desired is None or scaling is None:
        if found is None:
            return NOTHING
        return Part(actions=(DeleteAutoscaler(meta.name, found.uid),)) + emit(
            EventType.NORMAL,
            Reason.SERVING_UPDATED,
            f"Deleted HorizontalPodAutoscaler {meta.name}: spec.serving.autoscaling was "
            "removed, spec.serving.replicas applies",
        )
    if found is None:
        return Part(actions=(CreateAutoscaler(desired),)) + emit(
            EventType.NORMAL,
            Reason.SERVING_UPDATED,
            f"Created HorizontalPodAutoscaler {meta.name} ({_describe(scaling)})",
        )
    if found.serving_hash == autoscaler_hash(desired):
        return NOTHING
    return Part(actions=(UpdateAutoscaler(meta.name, autoscaler_patch(desired)),)) + emit(
        EventType.NORMAL,
        Reason.SERVING_UPDATED,
        f"Applied spec.serving.autoscaling to HorizontalPodAutoscaler {meta.name} "
        f"({_describe(scaling)})",
    )


def _describe(scaling: Autoscaling) -> str:
    aimed = ", ".join(f"{name} {percent}%" for name, percent in scaling.targets())
    return f"{scaling.min_replicas}-{scaling.max_replicas} replicas, {aimed}"
