"""``plan(observed, now)``: the operator's brain, a pure function.

The state machine of one pipeline (per set of inputs)::

    inputs change ─▶ [no Job] ─create─▶ Running ─┬─ Job failed ──▶ ValidationFailed |
                        ▲                        │                 CodeValidationFailed |
                        │ retrain annotation     │                 TrainingFailed
                        │ or new inputs          └─ Job succeeded ─▶ gate ─┬─ GateFailed
                        │                                                  └─ Passed ─▶ rollout
                        └── any verdict is final for its inputs: never retrained in a loop

The checks run in order, each small and named (cert-manager's policy chain); a check
that finds the spec unusable stops the chain, the condition summary always runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from modelpipe.api.v1alpha1 import (
    Condition,
    ConditionType,
    ModelPipelineStatus,
    Reason,
    Verdict,
)
from modelpipe.observed import Observed
from modelpipe.planning import datahash, serving, sources, training
from modelpipe.planning.clock import rfc3339
from modelpipe.planning.draft import Draft
from modelpipe.planning.outcome import Event, EventType, Plan

Check = Callable[[Draft], None]

CHECKS: tuple[Check, ...] = (
    datahash.follow_pvc_dataset,
    sources.keep_last_known,
    training.resolve_inputs,
    sources.report_sources,
    sources.announce_source_changes,
    training.stop_superseded_jobs,
    training.settle_current_run,
    sources.debounce_automatic_runs,
    training.start_run,
    serving.converge_serving,
    training.prune_jobs,
    sources.wake_for_schedule,
    datahash.wake_for_dataset_check,
)
SUMMARIES: tuple[Check, ...] = (
    training.training_condition,
    serving.degraded_condition,
)


def plan(observed: Observed, now: datetime) -> Plan:
    """Decide everything for one pipeline from one observation."""
    stamp = rfc3339(now)
    if observed.spec is None:
        return _invalid_spec(observed, stamp)
    status = observed.status.model_copy(deep=True)
    status.current_run = None  # rebuilt from the Jobs and the Deployment on every pass
    draft = Draft(obs=observed, spec=observed.spec, now=stamp, status=status)
    for check in CHECKS + SUMMARIES:
        check(draft)
    _summarize(draft)
    draft.status.last_run = draft.status.history[0] if draft.status.history else None
    draft.status.observed_generation = observed.metadata.generation
    draft.status.conditions = _merge_conditions(draft, stamp)
    draft.status.conditions = sources.with_sources_ready(draft, stamp=stamp)
    return Plan(
        status=draft.status,
        actions=tuple(draft.actions),
        events=tuple(draft.events),
        samples=tuple(draft.samples),
        requeue_after=min(draft.wakeups, default=None),
    )


def _summarize(d: Draft) -> None:
    """Evaluated, Promoted and the summary Ready condition."""
    last = next((r for r in d.status.history if r.verdict != Verdict.RUNNING), None)
    if last is None or (not last.checks and last.verdict not in (Verdict.PASSED, Verdict.PROMOTED)):
        d.condition(ConditionType.EVALUATED, "Unknown", Reason.NOT_EVALUATED, "no finished run yet")
    elif last.verdict == Verdict.GATE_FAILED:
        d.condition(
            ConditionType.EVALUATED,
            "False",
            Reason.GATE_FAILED,
            f"model {last.model_version}: {last.message}",
        )
    else:
        d.condition(
            ConditionType.EVALUATED,
            "True",
            Reason.GATE_PASSED,
            f"model {last.model_version} passed the gate",
        )
    production = d.status.production
    if ConditionType.PROMOTED not in d.conditions:
        d.condition(ConditionType.PROMOTED, "False", Reason.NO_MODEL_YET, "no model promoted yet")
    if d.blocker is not None:
        d.conditions[ConditionType.READY] = d.blocker
    elif production is None:
        d.condition(
            ConditionType.READY,
            "False",
            Reason.NO_MODEL_YET,
            "no model has passed the gate and rolled out yet",
        )
    else:
        reason = Reason.SUSPENDED if d.spec.suspend else Reason.SERVING
        d.condition(
            ConditionType.READY,
            "True",
            reason,
            f"serving model {production.model_version} (code {production.code_revision}, "
            f"dataset {production.dataset_version})",
        )


def _merge_conditions(d: Draft, stamp: str) -> list[Condition]:
    """Keep lastTransitionTime unless a condition's status flipped."""
    previous = {c.type: c for c in d.previous.conditions}
    # Conditions of other writers (e.g. SourcesReady from source polling) are kept as they are.
    merged = [c for c in d.previous.conditions if c.type not in set(ConditionType)]
    for type_ in ConditionType:
        verdict = d.conditions.get(type_)
        if verdict is None:
            continue
        before = previous.get(type_)
        moved = before is None or before.status != verdict.status
        merged.append(
            Condition(
                type=type_,
                status=verdict.status,
                reason=verdict.reason,
                message=verdict.message[:2048],
                last_transition_time=stamp
                if moved or before is None
                else before.last_transition_time,
                observed_generation=d.obs.metadata.generation,
            )
        )
    return merged


def _invalid_spec(observed: Observed, stamp: str) -> Plan:
    """A spec that does not parse: say so once, touch nothing, wait for the next edit."""
    status: ModelPipelineStatus = observed.status.model_copy(deep=True)
    message = f"spec is invalid: {observed.spec_error}"[:2048]
    before = next((c for c in status.conditions if c.type == ConditionType.READY), None)
    unchanged = (
        before is not None and before.reason == Reason.INVALID_SPEC and before.message == message
    )
    ready = Condition(
        type=ConditionType.READY,
        status="False",
        reason=Reason.INVALID_SPEC,
        message=message,
        last_transition_time=before.last_transition_time if unchanged and before else stamp,
        observed_generation=observed.metadata.generation,
    )
    status.conditions = [c for c in status.conditions if c.type != ConditionType.READY] + [ready]
    status.observed_generation = observed.metadata.generation
    events = () if unchanged else (Event(EventType.WARNING, Reason.INVALID_SPEC, message),)
    return Plan(status=status, events=events)
