"""The planner's scratchpad: a working copy of status plus what the checks decided so far.

Only the planner mutates it, and only while ``plan()`` runs; the result is frozen into a Plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from modelpipe.api.v1alpha1 import (
    ConditionType,
    ModelPipelineSpec,
    ModelPipelineStatus,
    Reason,
    RunRecord,
)
from modelpipe.observed import Observed
from modelpipe.planning.outcome import Action, Event, EventType, Sample

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Verdicted:
    status: ConditionStatus
    reason: Reason
    message: str


@dataclass
class Draft:
    obs: Observed
    spec: ModelPipelineSpec
    now: str
    status: ModelPipelineStatus
    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    conditions: dict[ConditionType, Verdicted] = field(default_factory=dict)
    # A blocking problem that makes the pipeline not Ready (missing PVC, Deployment, ...).
    blocker: Verdicted | None = None
    # Each check's wish to look again (seconds); the plan takes the earliest, once.
    wakeups: list[float] = field(default_factory=list)
    # Why no run may start on this pass although one is due (debounced automatic trigger).
    hold: str | None = None
    # The model version the serving Deployment is being moved to on this pass, if any.
    rolling_out: str | None = None
    # A rolled-back model whose rollout is retried on this pass (planning.retry).
    retrying: str | None = None

    @property
    def previous(self) -> ModelPipelineStatus:
        return self.obs.status

    def emit(self, type_: EventType, reason: Reason, message: str) -> None:
        self.events.append(Event(type_, reason, message))

    def condition(
        self, type_: ConditionType, status: ConditionStatus, reason: Reason, message: str
    ) -> None:
        self.conditions[type_] = Verdicted(status, reason, message)

    def wake_after(self, seconds: float) -> None:
        """Ask for another pass within ``seconds``; never cancels another check's wish."""
        self.wakeups.append(max(0.0, seconds))

    def block(self, reason: Reason, message: str, *, requeue_after: float | None = 30.0) -> None:
        """Record a blocking problem and warn once, when it first appears."""
        self.blocker = Verdicted("False", reason, message)
        if requeue_after is not None:
            self.wake_after(requeue_after)
        told = any(e.reason == reason for e in self.events)  # blocked twice in one pass
        if self.previous_reason(ConditionType.READY) != reason and not told:
            self.emit(EventType.WARNING, reason, message)

    def previous_reason(self, type_: ConditionType) -> str | None:
        found = next((c for c in self.previous.conditions if c.type == type_), None)
        return found.reason if found else None

    def record(self, run: RunRecord) -> None:
        """Insert or replace a run (by model version), newest first."""
        others = [r for r in self.status.history if r.model_version != run.model_version]
        position = next(
            (i for i, r in enumerate(self.status.history) if r.model_version == run.model_version),
            0,
        )
        others.insert(position, run)
        self.status.history = others

    def find(self, version: str) -> RunRecord | None:
        return next((r for r in self.status.history if r.model_version == version), None)
