"""What plan() owes spec.notify's webhooks: one row and one intent per turn, folded results.

One transition per test, from real plan() passes (tests/operator/builders.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.operator.builders import (
    cycle,
    deployment,
    desired_version,
    job,
    observe,
    result,
    spec,
    step,
    with_,
)

from modelpipe.api.v1alpha1 import ModelPipelineSpec, Reason
from modelpipe.api.v1alpha1.status import SourceStatus
from modelpipe.observed import Delivery, JobPhase, Observed, WebhookTarget
from modelpipe.planning import Plan
from modelpipe.planning.notifications import CONDITION_TYPE, NOT_SENT, escape_slack

SECRET_URL = "https://hooks.example.com/services/T000/B000/very-secret-token"
WEBHOOKS = [
    {"name": "team", "urlSecretRef": {"name": "hooks", "key": "team"}},
    {
        "name": "slack",
        "format": "Slack",
        "events": ["GateFailed"],
        "urlSecretRef": {"name": "hooks", "key": "slack"},
    },
]
TARGETS = (WebhookTarget("team", url=SECRET_URL), WebhookTarget("slack", url=SECRET_URL))


def notifying(**overrides: Any) -> ModelPipelineSpec:
    return spec(notify={"webhooks": WEBHOOKS}, **overrides)


def world(targets: tuple[WebhookTarget, ...] = TARGETS, **overrides: Any) -> Observed:
    return with_(observe(notifying(**overrides)), webhooks=targets)


def notified(planned: Plan) -> tuple[str, str, str]:
    found = next(c for c in planned.status.conditions if c.type == CONDITION_TYPE)
    return found.status, found.reason, found.message


def promoted() -> tuple[Observed, Plan]:
    """The pass that promotes the first model, and the observation it was made from."""
    version = desired_version(notifying())
    trained = cycle(
        world(), jobs=(job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95})),)
    )
    rolled = cycle(trained)
    last = with_(rolled, deployment=deployment(version))
    return last, step(last)


def test_a_promotion_is_one_pending_row_and_one_intent_for_the_webhooks_that_want_it() -> None:
    _, planned = promoted()
    [row] = planned.status.notifications
    assert (row.webhook, row.event, row.state) == ("team", "Promoted", "Pending")
    [intent] = planned.notifications
    assert intent.id == row.id and intent.webhook == "team"
    assert intent.body["event"] == "Promoted"
    assert intent.body["pipeline"] == {"namespace": "ml", "name": "iris", "uid": "uid-1"}
    assert intent.body["modelVersion"] == row.model_version
    assert notified(planned)[:2] == ("True", Reason.IDLE)


def test_later_passes_repeat_the_intent_but_add_no_row() -> None:
    last, planned = promoted()
    again = step(with_(last, status=planned.status), minutes=1)
    assert again.status.notifications == planned.status.notifications
    assert [i.id for i in again.notifications] == [i.id for i in planned.notifications]


def test_a_delivery_is_recorded_and_never_planned_again() -> None:
    last, planned = promoted()
    [row] = planned.status.notifications
    done = Delivery("team", row.id, True, 1, "HTTP 204", "2026-11-27T12:01:00Z")
    after = step(with_(last, status=planned.status, deliveries=(done,)), minutes=1)
    [recorded] = after.status.notifications
    assert (recorded.state, recorded.attempts, recorded.result) == ("Delivered", 1, "HTTP 204")
    assert after.notifications == ()
    assert notified(after)[:2] == ("True", Reason.DELIVERED)
    # The sender forgot it (status has it): the next pass does not send it again either.
    later = step(with_(last, status=after.status), minutes=2)
    assert later.notifications == () and later.status.notifications == after.status.notifications


def test_a_failed_delivery_is_told_once_and_shows_on_notified() -> None:
    last, planned = promoted()
    [row] = planned.status.notifications
    done = Delivery("team", row.id, False, 4, "HTTP 500 after 4 attempts", "2026-11-27T12:01:00Z")
    after = step(with_(last, status=planned.status, deliveries=(done,)), minutes=1)
    assert after.status.notifications[0].state == "Failed"
    assert [e.reason for e in after.events] == [Reason.DELIVERY_FAILED]
    assert notified(after)[:2] == ("False", Reason.DELIVERY_FAILED)
    again = step(with_(last, status=after.status, deliveries=(done,)), minutes=2)
    assert Reason.DELIVERY_FAILED not in [e.reason for e in again.events]
    assert again.notifications == ()


def test_a_gate_failure_goes_to_both_webhooks_in_their_formats() -> None:
    strict = {"thresholds": [{"metric": "accuracy", "min": 0.99}]}
    version = desired_version(notifying(evaluation=strict))
    failed = job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.5}))
    first = world(evaluation=strict)
    planned = step(cycle(first, jobs=(failed,)))
    events = {(r.webhook, r.event) for r in planned.status.notifications}
    assert events == {("team", "GateFailed"), ("slack", "GateFailed")}
    slack = next(i for i in planned.notifications if i.webhook == "slack")
    assert set(slack.body) == {"text"}
    assert slack.body["text"].startswith("GateFailed: ModelPipeline ml/iris: model ")


def test_a_webhook_whose_secret_is_refused_is_not_sent_and_says_why_once() -> None:
    refused = (WebhookTarget("team", problem="Secret hooks is not opted in"), TARGETS[1])
    version = desired_version(notifying())
    first = world(refused)
    trained = cycle(
        first, jobs=(job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95})),)
    )
    planned = step(with_(cycle(trained), deployment=deployment(version)))
    [row] = planned.status.notifications
    assert (row.state, row.result) == ("Failed", NOT_SENT)
    assert planned.notifications == ()
    assert notified(planned)[:2] == ("False", Reason.CREDENTIALS_REFUSED)
    told = [
        p
        for p in (step(first), step(trained), planned)
        if Reason.CREDENTIALS_REFUSED in [e.reason for e in p.events]
    ]
    assert len(told) == 1  # when Notified first turned to the refusal


def test_sources_ready_turning_false_is_a_source_failed_notification() -> None:
    followed = world(
        code={"revision": None, "git": {"url": "https://git.example.com/ml.git", "ref": "main"}}
    )
    row = SourceStatus(
        name="code", kind="git", url="https://git.example.com/ml.git", ref="main",
        reason="RefNotFound", error="ref main not found", consecutive_failures=1,
        last_check_time="2026-11-27T12:00:00Z",
    )  # fmt: skip
    planned = step(with_(followed, sources=(row,)))
    assert {(r.webhook, r.event) for r in planned.status.notifications} == {
        ("team", "SourceFailed")
    }
    again = step(with_(followed, sources=(row,), status=planned.status), minutes=1)
    assert len(again.status.notifications) == 1  # still failing: not a new turn


def test_without_notify_nothing_is_recorded_or_sent() -> None:
    version = desired_version()
    first = observe()
    planned = step(
        cycle(first, jobs=(job(version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95})),))
    )
    assert planned.notifications == () and planned.status.notifications == []
    assert all(c.type != CONDITION_TYPE for c in planned.status.conditions)


@pytest.mark.parametrize(
    "webhook",
    [
        {"name": "a", "url": SECRET_URL, "urlSecretRef": {"name": "s", "key": "k"}},
        {"name": "a", "urlSecretRef": {"name": "s", "key": "k"}, "events": ["Deployed"]},
        {"name": "A", "urlSecretRef": {"name": "s", "key": "k"}},
        {"name": "a", "urlSecretRef": {"name": "s", "key": "a/b"}},
    ],
)
def test_the_model_refuses_what_admission_refuses(webhook: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        notifying().model_validate(
            {
                **notifying().model_dump(by_alias=True, exclude_none=True),
                "notify": {"webhooks": [webhook]},
            }
        )


def test_a_plain_url_is_refused_with_where_it_goes_instead() -> None:
    with pytest.raises(ValidationError, match="put it in a Secret"):
        spec(
            notify={
                "webhooks": [
                    {"name": "a", "url": SECRET_URL, "urlSecretRef": {"name": "s", "key": "k"}}
                ]
            }
        )


def test_the_url_never_shows_in_a_target_repr() -> None:
    assert "very-secret-token" not in repr(TARGETS[0])
    assert "very-secret-token" not in repr(dataclasses.replace(TARGETS[0], problem="x"))


@given(st.text())
def test_slack_text_has_no_markup_left(text: str) -> None:
    escaped = escape_slack(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text
