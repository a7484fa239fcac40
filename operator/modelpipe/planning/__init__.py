"""Pure decision code: observation in, plan out. Imports neither kopf nor a Kubernetes client."""

from modelpipe.planning.outcome import (
    Action,
    CreateDeployment,
    CreateJob,
    CreateService,
    DeleteJob,
    Event,
    EventType,
    GateFailure,
    PatchDeployment,
    Plan,
    Promotion,
    RunFinished,
    Sample,
    UpdateDeployment,
)
from modelpipe.planning.plan import plan

__all__ = [
    "Action",
    "CreateDeployment",
    "CreateJob",
    "CreateService",
    "DeleteJob",
    "Event",
    "EventType",
    "GateFailure",
    "PatchDeployment",
    "Plan",
    "Promotion",
    "RunFinished",
    "Sample",
    "UpdateDeployment",
    "plan",
]
