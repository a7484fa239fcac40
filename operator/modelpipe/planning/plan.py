"""``plan(observed, now)``: the operator's brain, a pure function.

The state machine of one pipeline (per set of inputs)::

    inputs change ─▶ [no Job] ─create─▶ Running ─┬─ Job failed ──▶ ValidationFailed |
                        ▲                        │                 CodeValidationFailed |
                        │ retrain annotation     │                 TrainingFailed
                        │ or new inputs          └─ Job succeeded ─▶ gate ─┬─ GateFailed
                        │                                                  └─ Passed ─▶ rollout
                        └── any verdict is final for its inputs: never retrained in a loop

The checks run in order, each small and named (cert-manager's policy chain), then the
condition summaries; every one runs on every pass (an unusable spec or a held refusal
returns before the chain). A check reads the observation and what the checks before it
decided (``draft.Decided``, immutable) and returns its part of the plan (``draft.Part``);
``plan`` adds the parts up in order: actions, events and samples append, a later verdict
on a condition type replaces an earlier one, and wake-ups combine to the earliest
(``draft.earliest``), so no check's wake-up is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from modelpipe.api.v1alpha1 import all_runs, with_runs
from modelpipe.observed import Observed
from modelpipe.planning import (
    bake,
    canary,
    notifications,
    pvcdata,
    refusal,
    serving,
    shadow,
    sources,
    summary,
    training,
)
from modelpipe.planning.clock import rfc3339
from modelpipe.planning.conditions import merge_conditions, unusable_spec
from modelpipe.planning.draft import Decided, Part
from modelpipe.planning.outcome import Plan

Check = Callable[[Decided], Part]

CHECKS: tuple[Check, ...] = (
    pvcdata.follow_pvc_dataset,
    sources.keep_last_known,
    training.resolve_inputs,
    sources.report_sources,
    sources.announce_source_changes,
    training.stop_superseded_jobs,
    training.settle_current_run,
    sources.debounce_automatic_runs,
    training.start_run,
    serving.converge_serving,
    canary.retire,
    shadow.retire,
    bake.judge_bake,
    training.prune_jobs,
    sources.wake_for_schedule,
    pvcdata.wake_for_dataset_check,
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
        return unusable_spec(observed, stamp, problem=f"spec is invalid: {observed.spec_error}")
    if refusal.holding(observed, now):
        return refusal.held_plan(observed, now)
    # current_run is rebuilt from the Jobs and the Deployment on every pass. While
    # planning, history holds every run, newest first; with_runs files it back.
    status = observed.status.model_copy(
        update={"current_run": None, "history": all_runs(observed.status)}
    )
    decided = Decided(obs=observed, spec=observed.spec, now=stamp, status=status)
    for check in CHECKS + SUMMARIES:
        decided = decided.after(check(decided))
    conditions = merge_conditions(
        observed.status.conditions,
        decided.conditions,
        generation=observed.metadata.generation,
        stamp=stamp,
    )
    status = with_runs(decided.status, decided.status.history).model_copy(
        update={
            "observed_generation": observed.metadata.generation,
            "conditions": sources.with_sources_ready(decided, conditions, stamp=stamp),
        }
    )
    told = notifications.notify(decided, status, stamp=stamp)  # last: it compares the final status
    return Plan(
        status=told.status,
        actions=decided.so_far.actions,
        events=decided.so_far.events + told.events,
        samples=decided.so_far.samples,
        requeue_after=decided.so_far.wake,
        notifications=told.intents,
    )
