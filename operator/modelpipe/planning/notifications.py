"""``spec.notify``: which notifications a pass owes, and what became of those sent — pure.

::

    a run's verdict turns Promoted, GateFailed, ValidationFailed or RolledBack,
    or SourcesReady turns False            (compared with the status the pass started
        │                                   from, so each turn is seen by one pass only)
        ▼
    a Pending row per webhook that wants it, in status.notifications
        │  ── a Notify intent on every pass while Pending (the sender drops repeats)
        ▼
    the sender's Delivery folded in: Delivered, or Failed after its bounded retries;
    either is final: a row that is not Pending is never sent again

Rows are written in the status write of the pass that saw the turn, before anything is
sent, so an operator restarted at any point sends each Pending row again (at least once)
and never one recorded as Delivered. A webhook whose Secret cannot be used gets its row
as Failed at once and the Notified condition says why, in the operator's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelpipe.api.v1alpha1 import (
    Condition,
    Metadata,
    ModelPipelineStatus,
    Reason,
    Verdict,
    all_runs,
)
from modelpipe.api.v1alpha1.notify import (
    NOTIFICATIONS_KEPT,
    Notification,
    NotifyEvent,
    NotifySpec,
    WebhookFormat,
)
from modelpipe.observed import Delivery, WebhookTarget
from modelpipe.planning.draft import Decided, Verdicted
from modelpipe.planning.outcome import Event, EventType, Notify
from modelpipe.planning.sourcestatus import CONDITION_TYPE as SOURCES_READY
from modelpipe.planning.sourcestatus import SourcesReadyReason

CONDITION_TYPE = "Notified"
_TURNS = {
    Verdict.PROMOTED: NotifyEvent.PROMOTED,
    Verdict.GATE_FAILED: NotifyEvent.GATE_FAILED,
    Verdict.VALIDATION_FAILED: NotifyEvent.VALIDATION_FAILED,
    Verdict.ROLLED_BACK: NotifyEvent.ROLLED_BACK,
}
_RESOLVING = SourcesReadyReason.RESOLVING.value
NOT_SENT = "not sent: the webhook's Secret cannot be used (see the Notified condition)"


def occurrences(
    before: ModelPipelineStatus, after: ModelPipelineStatus
) -> list[tuple[NotifyEvent, str | None, str]]:
    """(event, model version, message) of each turn from ``before`` to ``after``."""
    verdicts = {run.model_version: run.verdict for run in all_runs(before)}
    found: list[tuple[NotifyEvent, str | None, str]] = []
    for run in all_runs(after):
        event = _TURNS.get(run.verdict)
        if event is not None and verdicts.get(run.model_version) != run.verdict:
            detail = "is serving" if event == NotifyEvent.PROMOTED else f"{run.message}"
            found.append((event, run.model_version, f"model {run.model_version}: {detail}"))
    old, new = _condition(before, SOURCES_READY), _condition(after, SOURCES_READY)
    if new is not None and _failing(new) and not (old is not None and _failing(old)):
        found.append((NotifyEvent.SOURCE_FAILED, None, f"{new.reason}: {new.message}"))
    return found


def _failing(sources_ready: Condition) -> bool:
    """SourcesReady=False for a failure, not while the first checks are still under way."""
    return sources_ready.status == "False" and sources_ready.reason != _RESOLVING


@dataclass(frozen=True)
class Told:
    """What spec.notify adds to a plan: its rows and condition in status, events, intents."""

    status: ModelPipelineStatus
    events: tuple[Event, ...] = ()
    intents: tuple[Notify, ...] = ()


def notify(d: Decided, status: ModelPipelineStatus, *, stamp: str) -> Told:
    """This pass's turns (``d.previous`` to ``status``) and the sender's results, recorded."""
    spec = d.spec.notify
    if spec is None:
        others = [c for c in status.conditions if c.type != CONDITION_TYPE]
        return Told(status.model_copy(update={"notifications": [], "conditions": others}))
    targets = {t.name: t for t in d.obs.webhooks}
    rows = [fold(row, d.obs.deliveries) for row in status.notifications]
    events = [
        Event(EventType.WARNING, Reason.DELIVERY_FAILED, _failure(row))
        for old, row in zip(status.notifications, rows, strict=True)
        if old.state == "Pending" and row.state == "Failed"
    ]
    fresh = [
        _row(webhook.name, event, version, message, stamp=stamp, target=targets.get(webhook.name))
        for event, version, message in occurrences(d.previous, status)
        for webhook in spec.webhooks
        if webhook.wants(event)
    ]
    rows = (fresh + rows)[:NOTIFICATIONS_KEPT]
    verdict = notified(spec, targets, rows)
    before = _condition(d.previous, CONDITION_TYPE)
    # A failed delivery has its own event (above); a refused Secret is told once.
    if verdict.reason == Reason.CREDENTIALS_REFUSED and (
        before is None or before.reason != verdict.reason
    ):
        events.append(Event(EventType.WARNING, verdict.reason, verdict.message))
    others = [c for c in status.conditions if c.type != CONDITION_TYPE]
    conditions = [*others, _notified_condition(d, verdict, before, stamp=stamp)]
    formats = {w.name: w.format for w in spec.webhooks}
    meta = d.obs.metadata
    intents = tuple(
        Notify(row.webhook, row.id, payload(row, meta, formats[row.webhook]))
        for row in rows
        if row.state == "Pending" and row.webhook in formats
    )
    new = status.model_copy(update={"notifications": rows, "conditions": conditions})
    return Told(new, tuple(events), intents)


def fold(row: Notification, deliveries: tuple[Delivery, ...]) -> Notification:
    """A Pending row with the sender's final answer; any other row as it is."""
    if row.state != "Pending":
        return row
    done = next((x for x in deliveries if (x.webhook, x.id) == (row.webhook, row.id)), None)
    if done is None:
        return row
    return row.model_copy(
        update={
            "state": "Delivered" if done.delivered else "Failed",
            "attempts": done.attempts,
            "result": done.result[:256],
            "finished_at": done.finished_at,
        }
    )


def _row(
    webhook: str,
    event: NotifyEvent,
    version: str | None,
    message: str,
    *,
    stamp: str,
    target: WebhookTarget | None,
) -> Notification:
    usable = target is not None and target.problem is None
    return Notification(
        id=f"{event.value}/{version or 'sources'}/{stamp}",
        webhook=webhook,
        event=event,
        model_version=version,
        message=message[:1024],
        occurred_at=stamp,
        state="Pending" if usable else "Failed",
        result="" if usable else NOT_SENT,
        finished_at=None if usable else stamp,
    )


def notified(
    spec: NotifySpec, targets: dict[str, WebhookTarget], rows: list[Notification]
) -> Verdicted:
    """The Notified condition: a refused Secret first, then the newest finished delivery."""
    for webhook in spec.webhooks:
        target = targets.get(webhook.name)
        problem = "its Secret was not read" if target is None else target.problem
        if problem is not None:
            return Verdicted(
                "False", Reason.CREDENTIALS_REFUSED, f"webhook {webhook.name}: {problem}"
            )
    pending = sum(row.state == "Pending" for row in rows)
    waiting = f"; {pending} pending" if pending else ""
    finished = next((row for row in rows if row.state != "Pending"), None)
    if finished is None:
        return Verdicted("True", Reason.IDLE, f"nothing delivered yet{waiting}")
    if finished.state == "Failed":
        return Verdicted("False", Reason.DELIVERY_FAILED, f"{_failure(finished)}{waiting}")
    return Verdicted(
        "True",
        Reason.DELIVERED,
        f"webhook {finished.webhook} was told {finished.event.value} ({finished.id}){waiting}",
    )


def _failure(row: Notification) -> str:
    return f"webhook {row.webhook} was not told {row.event.value} ({row.id}): {row.result}"


def payload(row: Notification, meta: Metadata, format_: WebhookFormat) -> dict[str, Any]:
    """The body sent: the generic JSON document, or Slack's ``{"text": ...}``.

    Slack's text escapes ``&``, ``<`` and ``>`` as Slack asks, so a message quoting a
    pipeline's own strings cannot make a link or a mention.
    """
    if format_ == WebhookFormat.SLACK:
        text = f"{row.event.value}: ModelPipeline {meta.namespace}/{meta.name}: {row.message}"
        return {"text": escape_slack(text)}
    return {
        "id": row.id,
        "event": row.event.value,
        "pipeline": {"namespace": meta.namespace, "name": meta.name, "uid": meta.uid},
        "modelVersion": row.model_version,
        "message": row.message,
        "occurredAt": row.occurred_at,
    }


def escape_slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _condition(status: ModelPipelineStatus, type_: str) -> Condition | None:
    return next((c for c in status.conditions if c.type == type_), None)


def _notified_condition(
    d: Decided, verdict: Verdicted, before: Condition | None, *, stamp: str
) -> Condition:
    moved = before is None or before.status != verdict.status
    return Condition(
        type=CONDITION_TYPE,
        status=verdict.status,
        reason=verdict.reason.value,
        message=verdict.message[:2048],
        last_transition_time=stamp if moved or before is None else before.last_transition_time,
        observed_generation=d.obs.metadata.generation,
    )
