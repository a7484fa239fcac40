"""Pure decision code: observation in, plan out. Imports neither kopf nor a Kubernetes client."""

from modelpipe.planning.outcome import (
    Action,
    CreateAutoscaler,
    CreateDeployment,
    CreateJob,
    CreateService,
    DeleteAutoscaler,
    DeleteJob,
    Event,
    EventType,
    GateFailure,
    PatchDeployment,
    Plan,
    Promotion,
    RunFinished,
    Sample,
    UpdateAutoscaler,
    UpdateDeployment,
)
from modelpipe.planning.plan import plan

__all__ = [
    "Action",
    "CreateAutoscaler",
    "CreateDeployment",
    "CreateJob",
    "CreateService",
    "DeleteAutoscaler",
    "DeleteJob",
    "Event",
    "EventType",
    "GateFailure",
    "PatchDeployment",
    "Plan",
    "Promotion",
    "RunFinished",
    "Sample",
    "UpdateAutoscaler",
    "UpdateDeployment",
    "plan",
]
