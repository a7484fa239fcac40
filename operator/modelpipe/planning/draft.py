"""What the checks decided so far (``Decided``) and what each one returns (``Part``).

A check is a function ``(Decided) -> Part``. It reads the observation and what the
earlier checks decided, both immutable, and returns its own part of the plan: actions,
events, samples, conditions, a wake-up, and, where it changes them, a new status (a copy:
``model_copy(update=...)``) or the observation with its gaps filled. ``plan()`` folds the
parts in order with ``Decided.after``; a check made of steps does the same with its own.
Nothing writes into a shared object, so a check can be called and tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

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
_T = TypeVar("_T")


@dataclass(frozen=True)
class Verdicted:
    status: ConditionStatus
    reason: Reason
    message: str


def earliest(first: float | None, second: float | None) -> float | None:
    """The one place wake-ups combine: the earliest wins, none is ever lost."""
    if first is None or second is None:
        return second if first is None else first
    return min(first, second)


@dataclass(frozen=True)
class Part:
    """One check's part of the plan. ``None`` leaves what earlier checks decided as it was."""

    # The whole new status, when the check changed it: a copy of the status of the Decided
    # it was given (with_status, with_record, with_run), so it keeps what came before.
    status: ModelPipelineStatus | None = None
    # The observation with gaps filled (last known inputs, the PVC dataset's row).
    obs: Observed | None = None
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    samples: tuple[Sample, ...] = ()
    # In order; a later verdict on the same type replaces an earlier one.
    conditions: tuple[tuple[ConditionType, Verdicted], ...] = ()
    # Look again within this many seconds.
    wake: float | None = None
    # A blocking problem that makes the pipeline not Ready (missing PVC, Deployment, ...).
    blocker: Verdicted | None = None
    # Why no run may start on this pass although one is due (debounced automatic trigger).
    hold: str | None = None
    # The model version the serving Deployment is being moved to on this pass.
    rolling_out: str | None = None
    # A rolled-back model whose rollout is retried on this pass (planning.retry).
    retrying: str | None = None

    def __add__(self, later: Part) -> Part:
        """This part, then ``later``: lists join, ``later``'s values win, wake-ups the earliest."""
        return Part(
            status=_last(self.status, later.status),
            obs=_last(self.obs, later.obs),
            actions=self.actions + later.actions,
            events=self.events + later.events,
            samples=self.samples + later.samples,
            conditions=self.conditions + later.conditions,
            wake=earliest(self.wake, later.wake),
            blocker=_last(self.blocker, later.blocker),
            hold=_last(self.hold, later.hold),
            rolling_out=_last(self.rolling_out, later.rolling_out),
            retrying=_last(self.retrying, later.retrying),
        )


def _last(first: _T | None, second: _T | None) -> _T | None:
    return first if second is None else second


NOTHING = Part()


@dataclass(frozen=True)
class Decided:
    """The observation and what the checks before this one decided; read, never written."""

    obs: Observed
    spec: ModelPipelineSpec
    now: str
    # The status being planned; while planning, ``history`` holds every run, newest first.
    status: ModelPipelineStatus
    so_far: Part = field(default=NOTHING)

    def after(self, part: Part) -> Decided:
        """What is decided once ``part`` is added."""
        return replace(
            self,
            obs=self.obs if part.obs is None else part.obs,
            status=self.status if part.status is None else part.status,
            so_far=self.so_far + part,
        )

    @property
    def previous(self) -> ModelPipelineStatus:
        return self.obs.status

    @property
    def conditions(self) -> Mapping[ConditionType, Verdicted]:
        return dict(self.so_far.conditions)

    @property
    def blocker(self) -> Verdicted | None:
        return self.so_far.blocker

    @property
    def hold(self) -> str | None:
        return self.so_far.hold

    @property
    def rolling_out(self) -> str | None:
        return self.so_far.rolling_out

    @property
    def retrying(self) -> str | None:
        return self.so_far.retrying

    def previous_reason(self, type_: ConditionType) -> str | None:
        found = next((c for c in self.previous.conditions if c.type == type_), None)
        return found.reason if found else None

    def find(self, version: str) -> RunRecord | None:
        return next((r for r in self.status.history if r.model_version == version), None)

    def with_status(self, **changes: Any) -> ModelPipelineStatus:
        """A copy of the status with ``changes`` (field names, as model_copy takes them)."""
        return self.status.model_copy(update=changes)

    def with_record(self, run: RunRecord) -> ModelPipelineStatus:
        """A copy of the status with ``run`` inserted or replaced (by version), newest first."""
        history = self.status.history
        others = [r for r in history if r.model_version != run.model_version]
        position = next(
            (i for i, r in enumerate(history) if r.model_version == run.model_version), 0
        )
        others.insert(position, run)
        return self.with_status(history=others)

    def with_run(self, version: str, **changes: Any) -> ModelPipelineStatus:
        """A copy of the status whose run ``version`` (which must exist) has ``changes``."""
        record = self.find(version)
        assert record is not None
        return self.with_record(record.model_copy(update=changes))


def emit(type_: EventType, reason: Reason, message: str) -> Part:
    return Part(events=(Event(type_, reason, message),))


def condition(type_: ConditionType, status: ConditionStatus, reason: Reason, message: str) -> Part:
    return Part(conditions=((type_, Verdicted(status, reason, message)),))


def wake_after(seconds: float) -> Part:
    """Ask for another pass within ``seconds``; combined with the others' by ``earliest``."""
    return Part(wake=max(0.0, seconds))


def block(d: Decided, reason: Reason, message: str, *, requeue_after: float | None = 30.0) -> Part:
    """A blocking problem, with a warning once, when it first appears."""
    part = Part(blocker=Verdicted("False", reason, message))
    if requeue_after is not None:
        part += wake_after(requeue_after)
    told = any(e.reason == reason for e in d.so_far.events)  # blocked twice in one pass
    if d.previous_reason(ConditionType.READY) != reason and not told:
        part += emit(EventType.WARNING, reason, message)
    return part
