"""What a plan asks for: actions for the executor, events, metric samples and the new status."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from modelpipe.api.v1alpha1 import ModelPipelineStatus, Reason, Verdict

Manifest = dict[str, Any]


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: Reason
    message: str


@dataclass(frozen=True)
class CreateJob:
    manifest: Manifest
    # A training run's config (manifests.TrainingRun): created first, then owned by the Job.
    config_map: Manifest | None = None

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])


@dataclass(frozen=True)
class DeleteJob:
    name: str
    why: str


@dataclass(frozen=True)
class CreateDeployment:
    manifest: Manifest


@dataclass(frozen=True)
class CreateService:
    manifest: Manifest


@dataclass(frozen=True)
class PatchDeployment:
    """Point the serving Deployment at a model version (a strategic-merge patch)."""

    name: str
    version: str
    patch: Manifest


@dataclass(frozen=True)
class UpdateDeployment:
    """Bring an owned Deployment to spec.serving, keeping its model (a JSON merge patch)."""

    name: str
    patch: Manifest


@dataclass(frozen=True)
class ScaleDeployment:
    """Set an owned Deployment's replicas (the canary split, planning.canary)."""

    name: str
    replicas: int


@dataclass(frozen=True)
class CreateAutoscaler:
    """Create the serving Deployment's HorizontalPodAutoscaler (spec.serving.autoscaling)."""

    manifest: Manifest


@dataclass(frozen=True)
class UpdateAutoscaler:
    """Bring an owned autoscaler to spec.serving.autoscaling (a JSON merge patch)."""

    name: str
    patch: Manifest


@dataclass(frozen=True)
class DeleteAutoscaler:
    """Remove an owned autoscaler the spec no longer asks for (only the one with ``uid``)."""

    name: str
    uid: str


Action = (
    CreateJob
    | DeleteJob
    | CreateDeployment
    | CreateService
    | PatchDeployment
    | UpdateDeployment
    | ScaleDeployment
    | CreateAutoscaler
    | UpdateAutoscaler
    | DeleteAutoscaler
)


@dataclass(frozen=True)
class RunFinished:
    verdict: Verdict


@dataclass(frozen=True)
class GateFailure:
    metric: str


@dataclass(frozen=True)
class Promotion:
    version: str
    metrics: dict[str, float]
    # From the first sight of the inputs to serving; None for pins and rollbacks.
    lead_time_seconds: float | None


Sample = RunFinished | GateFailure | Promotion


@dataclass(frozen=True)
class Notify:
    """Send one notification (a Pending row of status.notifications) to one webhook.

    Planned on every pass while the row is Pending; the sender drops one it already has.
    """

    webhook: str
    id: str
    body: Manifest  # already in the webhook's format (JSON or Slack)


@dataclass(frozen=True)
class Plan:
    status: ModelPipelineStatus
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    samples: tuple[Sample, ...] = ()
    # Look again after this many seconds even if nothing changes (missing PVC or Deployment).
    requeue_after: float | None = None
    # Webhook deliveries for the sender, after the status that records them is written.
    notifications: tuple[Notify, ...] = ()
