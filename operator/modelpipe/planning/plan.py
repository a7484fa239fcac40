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
)
from modelpipe.observed import Observed
from modelpipe.planning import datahash, serving, sources, summary, training
from modelpipe.planning.clock import rfc3339
from modelpipe.planning.draft import Draft, Verdicted
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
    summary.degraded_condition,
    summary.evaluated_condition,
    summary.promoted_condition,
    summary.ready_condition,
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
    draft.status.last_run = draft.status.history[0] if draft.status.history else None
    draft.status.observed_generation = observed.metadata.generation
    draft.status.conditions = _merge_conditions(
        observed.status.conditions,
        draft.conditions,
        generation=observed.metadata.generation,
        stamp=stamp,
    )
    draft.status.conditions = sources.with_sources_ready(draft, stamp=stamp)
    return Plan(
        status=draft.status,
        actions=tuple(draft.actions),
        events=tuple(draft.events),
        samples=tuple(draft.samples),
        requeue_after=min(draft.wakeups, default=None),
    )


def _merge_conditions(
    previous: list[Condition],
    verdicts: dict[ConditionType, Verdicted],
    *,
    generation: int | None,
    stamp: str,
) -> list[Condition]:
    """Keep lastTransitionTime unless a condition's status flipped."""
    before = {c.type: c for c in previous}
    # Conditions of other writers (e.g. SourcesReady from source polling) are kept as they are.
    merged = [c for c in previous if c.type not in set(ConditionType)]
    for type_ in ConditionType:
        verdict = verdicts.get(type_)
        if verdict is None:
            continue
        old = before.get(type_)
        moved = old is None or old.status != verdict.status
        merged.append(
            Condition(
                type=type_,
                status=verdict.status,
                reason=verdict.reason,
                message=verdict.message[:2048],
                last_transition_time=stamp if moved or old is None else old.last_transition_time,
                observed_generation=generation,
            )
        )
    return merged


def _invalid_spec(observed: Observed, stamp: str) -> Plan:
    """A spec that does not parse: say so once, touch nothing, wait for the next edit.

    Training, Evaluated and Promoted become Unknown for this generation, so nothing
    written for an older spec (a Training=True, say) hides Ready=False InvalidSpec.
    Degraded keeps its older generation: it is not assessed without a spec.
    """
    status: ModelPipelineStatus = observed.status.model_copy(deep=True)
    message = f"spec is invalid: {observed.spec_error}"[:2048]
    before = next((c for c in status.conditions if c.type == ConditionType.READY), None)
    unchanged = (
        before is not None and before.reason == Reason.INVALID_SPEC and before.message == message
    )
    unknown = Verdicted("Unknown", Reason.INVALID_SPEC, "not assessed while the spec is invalid")
    verdicts = {
        ConditionType.READY: Verdicted("False", Reason.INVALID_SPEC, message),
        ConditionType.TRAINING: unknown,
        ConditionType.EVALUATED: unknown,
        ConditionType.PROMOTED: unknown,
    }
    kept = [c for c in status.conditions if c.type == ConditionType.DEGRADED]
    merged = _merge_conditions(
        status.conditions, verdicts, generation=observed.metadata.generation, stamp=stamp
    )
    status.conditions = [c for c in merged if c.type != ConditionType.DEGRADED] + kept
    status.observed_generation = observed.metadata.generation
    events = () if unchanged else (Event(EventType.WARNING, Reason.INVALID_SPEC, message),)
    return Plan(status=status, events=events)
