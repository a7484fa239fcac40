"""``plan(observed, now)``: the operator's brain, a pure function.

The state machine of one pipeline (per set of inputs)::

    inputs change ─▶ [no Job] ─create─▶ Running ─┬─ Job failed ──▶ ValidationFailed |
                        ▲                        │                 CodeValidationFailed |
                        │ retrain annotation     │                 TrainingFailed
                        │ or new inputs          └─ Job succeeded ─▶ gate ─┬─ GateFailed
                        │                                                  └─ Passed ─▶ rollout
                        └── any verdict is final for its inputs: never retrained in a loop

The checks run in order, each small and named (cert-manager's policy chain); every
check runs on every pass (an unusable spec or a held refusal returns before the
chain), then the condition summaries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from modelpipe.api.v1alpha1 import all_runs, file_runs
from modelpipe.observed import Observed
from modelpipe.planning import bake, pvcdata, refusal, serving, sources, summary, training
from modelpipe.planning.clock import rfc3339
from modelpipe.planning.conditions import merge_conditions, unusable_spec
from modelpipe.planning.draft import Draft
from modelpipe.planning.outcome import Plan

Check = Callable[[Draft], None]

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
    status = observed.status.model_copy(deep=True)
    status.current_run = None  # rebuilt from the Jobs and the Deployment on every pass
    # While planning, history holds every run, newest first; file_runs splits it back.
    status.history = all_runs(status)
    draft = Draft(obs=observed, spec=observed.spec, now=stamp, status=status)
    for check in CHECKS + SUMMARIES:
        check(draft)
    file_runs(draft.status, draft.status.history)
    draft.status.observed_generation = observed.metadata.generation
    draft.status.conditions = merge_conditions(
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
