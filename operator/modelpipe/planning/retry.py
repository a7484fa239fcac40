"""Bounded retries of a rollout that did not become ready (e.g. a loaded node, slow pods).

A candidate that passed the gate but whose pods missed the progress deadline is rolled
back (production untouched) and tried again, up to ``ROLLOUT_ATTEMPTS`` rollouts in all,
after ``RETRY_FIRST`` seconds, doubling. ``status.history[].rolloutAttempts`` counts them
and ``rolloutRetryAt`` says when the next one starts. After the last attempt it stays
RolledBack until someone sets the annotation ``modelpipe.io/retry-rollout`` to a new
value, which retries once, at once (again as often as the value changes)::

    RolledBack ──retryAt passed, or a new retry-rollout value──▶ Passed ─▶ rolling out
        ▲                                                                  │
        └──────────────── deadline exceeded again (attempt n+1) ◀─────────┘

Only the model the current spec asks for is retried: an older candidate's failure is history.
"""

from __future__ import annotations

from datetime import timedelta

from modelpipe.api.v1alpha1 import Reason, RunRecord, Verdict
from modelpipe.layout import RETRY_ROLLOUT_ANNOTATION
from modelpipe.planning.clock import parse, rfc3339
from modelpipe.planning.draft import NOTHING, Decided, Part, wake_after

ROLLOUT_ATTEMPTS = 3
RETRY_FIRST = 60.0


def asked_version(d: Decided) -> str | None:
    """The model the current spec asks to serve: the pinned one, else the current inputs'."""
    if d.spec.serving.pinned_version:
        return d.spec.serving.pinned_version
    return d.status.inputs.model_version if d.status.inputs else None


def retry_rollout(d: Decided) -> Part:
    """Make the asked-for, rolled-back model a candidate again when its retry is due."""
    version = asked_version(d)
    record = d.find(version) if version else None
    now = parse(d.now)
    if record is None or record.verdict != Verdict.ROLLED_BACK or now is None:
        return NOTHING
    token = d.obs.metadata.annotations.get(RETRY_ROLLOUT_ANNOTATION)
    deployment = d.obs.deployment
    if token and token != record.rollout_retry_token:
        record = record.model_copy(update={"rollout_retry_token": token})
    elif record.reason in (Reason.ANALYSIS_FAILED, Reason.CANARY_ABORTED):
        return NOTHING  # live metrics broke the limits (planning.bake, .canary): annotation only
    elif deployment and deployment.template_version == version and deployment.rolled_out:
        pass  # its slow pods became ready after all (no production to return to): take it
    elif record.rollout_retry_at is None:
        return NOTHING  # attempts used up: waits for the annotation
    elif (due := parse(record.rollout_retry_at)) is not None and now < due:
        return wake_after((due - now).total_seconds())
    retried = record.model_copy(
        update={
            "verdict": Verdict.PASSED,
            "reason": Reason.GATE_PASSED,
            "rollout_retry_at": None,
            "message": f"retrying the rollout (attempt {record.rollout_attempts + 1})",
        }
    )
    return Part(status=d.with_record(retried), retrying=retried.model_version)


def after_failed_rollout(record: RunRecord, *, now: str) -> tuple[RunRecord, str, Part]:
    """Count the failed rollout and plan the next: the record counted, the words that say
    what happens next, and the wake-up for an automatic retry."""
    attempts = record.rollout_attempts + 1
    at = parse(now)
    automatic = record.rollout_retry_token is None  # a retry by hand is tried once
    if not automatic or attempts >= ROLLOUT_ATTEMPTS or at is None:
        counted = record.model_copy(update={"rollout_attempts": attempts, "rollout_retry_at": None})
        return (
            counted,
            f"no automatic retry after {attempts} rollouts; to try again, set the "
            f"annotation {RETRY_ROLLOUT_ANNOTATION} to a new value",
            NOTHING,
        )
    wait = RETRY_FIRST * 2 ** (attempts - 1)
    retry_at = rfc3339(at + timedelta(seconds=wait))
    counted = record.model_copy(update={"rollout_attempts": attempts, "rollout_retry_at": retry_at})
    return (
        counted,
        f"retrying at {retry_at} (rollout {attempts + 1} of "
        f"{ROLLOUT_ATTEMPTS}; {RETRY_ROLLOUT_ANNOTATION} retries at once)",
        wake_after(wait),
    )
