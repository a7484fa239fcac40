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
from modelpipe.planning.draft import Draft

ROLLOUT_ATTEMPTS = 3
RETRY_FIRST = 60.0


def asked_version(d: Draft) -> str | None:
    """The model the current spec asks to serve: the pinned one, else the current inputs'."""
    if d.spec.serving.pinned_version:
        return d.spec.serving.pinned_version
    return d.status.inputs.model_version if d.status.inputs else None


def retry_rollout(d: Draft) -> None:
    """Make the asked-for, rolled-back model a candidate again when its retry is due."""
    version = asked_version(d)
    record = d.find(version) if version else None
    now = parse(d.now)
    if record is None or record.verdict != Verdict.ROLLED_BACK or now is None:
        return
    token = d.obs.metadata.annotations.get(RETRY_ROLLOUT_ANNOTATION)
    deployment = d.obs.deployment
    if token and token != record.rollout_retry_token:
        record.rollout_retry_token = token
    elif record.reason == Reason.ANALYSIS_FAILED:
        return  # its live metrics broke the limits (planning.bake): only the annotation retries
    elif deployment and deployment.template_version == version and deployment.rolled_out:
        pass  # its slow pods became ready after all (no production to return to): take it
    elif record.rollout_retry_at is None:
        return  # attempts used up: waits for the annotation
    elif (due := parse(record.rollout_retry_at)) is not None and now < due:
        d.wake_after((due - now).total_seconds())
        return
    record.verdict, record.reason = Verdict.PASSED, Reason.GATE_PASSED
    record.rollout_retry_at = None
    record.message = f"retrying the rollout (attempt {record.rollout_attempts + 1})"
    d.retrying = record.model_version


def after_failed_rollout(d: Draft, record: RunRecord) -> str:
    """Count the failed rollout and plan the next; the words that say what happens next."""
    record.rollout_attempts += 1
    now = parse(d.now)
    automatic = record.rollout_retry_token is None  # a retry by hand is tried once
    if not automatic or record.rollout_attempts >= ROLLOUT_ATTEMPTS or now is None:
        record.rollout_retry_at = None
        return (
            f"no automatic retry after {record.rollout_attempts} rollouts; to try again, set the "
            f"annotation {RETRY_ROLLOUT_ANNOTATION} to a new value"
        )
    wait = RETRY_FIRST * 2 ** (record.rollout_attempts - 1)
    record.rollout_retry_at = rfc3339(now + timedelta(seconds=wait))
    d.wake_after(wait)
    return (
        f"retrying at {record.rollout_retry_at} (rollout {record.rollout_attempts + 1} of "
        f"{ROLLOUT_ATTEMPTS}; {RETRY_ROLLOUT_ANNOTATION} retries at once)"
    )
