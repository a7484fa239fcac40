"""The sender against a real HTTP receiver on 127.0.0.1: both bodies, a retry after a 500,
bounded attempts, no redirect, the egress policy, and no URL in the log or the result."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import REGISTRY
from tests.operator.builders import meta
from tests.operator.fake_api import FakeClock

from modelpipe.api.v1alpha1.notify import Notification, NotifyEvent, WebhookFormat
from modelpipe.k8s.notifier import Notifier
from modelpipe.observed import Delivery, WebhookTarget
from modelpipe.planning import Notify
from modelpipe.planning.notifications import payload
from modelpipe.sources.egress import EgressPolicy

TOKEN = "T0-B0-very-secret-token"
SENDS = "modelpipe_notification_sends_total"
ROW = Notification(
    id="Promoted/iris-3f2c9e1/2026-12-04T09:00:00Z",
    webhook="team",
    event=NotifyEvent.PROMOTED,
    model_version="iris-3f2c9e1",
    message="model iris-3f2c9e1: is serving",
    occurred_at="2026-12-04T09:00:00Z",
    state="Pending",
)


@dataclass
class Receiver:
    """Answers each POST with the next status of ``answers`` (then 204), and keeps them."""

    port: int = 0
    answers: list[int] = field(default_factory=list)
    got: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def url(self, path: str = f"/hooks/{TOKEN}") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            state.got.append((self.path, json.loads(self.rfile.read(length))))
            status = state.answers.pop(0) if state.answers else 204
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("location", f"http://169.254.169.254/{TOKEN}")
            body = f"internal detail {TOKEN}".encode()
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@dataclass
class Sent:
    notifier: Notifier
    reconciled: list[tuple[str, str]]

    def deliver(self, intent: Notify, url: str) -> Delivery:
        target = WebhookTarget("team", url=url)
        self.notifier.send("ml", "iris", (intent,), (target,), pending=frozenset())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            finished = self.notifier.finished("ml", "iris")
            if finished and self.reconciled:  # then the pipeline is looked at again
                assert self.reconciled == [("ml", "iris")]
                return finished[0]
            time.sleep(0.02)
        raise AssertionError("no delivery finished")


@pytest.fixture
def sent() -> Iterator[Sent]:
    reconciled: list[tuple[str, str]] = []
    notifier = Notifier(
        on_done=lambda namespace, name: reconciled.append((namespace, name)),
        clock=FakeClock(),  # backoff sleeps move the fake clock, not the test
        draw=lambda: 1.0,
    )
    yield Sent(notifier, reconciled)
    notifier.stop()


def intent(format_: WebhookFormat) -> Notify:
    return Notify("team", ROW.id, payload(ROW, meta(), format_))


def test_the_json_body_is_delivered(receiver: Receiver, sent: Sent) -> None:
    done = sent.deliver(intent(WebhookFormat.JSON), receiver.url())
    assert (done.delivered, done.attempts, done.result) == (True, 1, "HTTP 204")
    [(path, body)] = receiver.got
    assert path == f"/hooks/{TOKEN}"
    assert body == {
        "id": ROW.id,
        "event": "Promoted",
        "pipeline": {"namespace": "ml", "name": "iris", "uid": "uid-1"},
        "modelVersion": "iris-3f2c9e1",
        "message": "model iris-3f2c9e1: is serving",
        "occurredAt": "2026-12-04T09:00:00Z",
    }


def test_the_slack_body_is_delivered(receiver: Receiver, sent: Sent) -> None:
    assert sent.deliver(intent(WebhookFormat.SLACK), receiver.url()).delivered
    assert receiver.got[0][1] == {
        "text": "Promoted: ModelPipeline ml/iris: model iris-3f2c9e1: is serving"
    }


def test_a_500_is_retried_and_nothing_of_the_url_or_answer_is_logged(
    receiver: Receiver, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answers = [500]
    with caplog.at_level(logging.DEBUG):
        done = sent.deliver(intent(WebhookFormat.JSON), receiver.url())
    assert (done.delivered, done.attempts) == (True, 2)
    assert [body for _, body in receiver.got] == [receiver.got[0][1]] * 2  # the same body twice
    assert "Delivered notification" in caplog.text
    assert TOKEN not in caplog.text and "internal detail" not in caplog.text
    assert TOKEN not in repr(done)


def test_attempts_are_bounded_and_the_result_is_the_operators_words(
    receiver: Receiver, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    before = _counted("failed"), _sends()
    receiver.answers = [503] * 10
    with caplog.at_level(logging.DEBUG):
        done = sent.deliver(intent(WebhookFormat.JSON), receiver.url())
    assert (done.delivered, done.attempts, done.result) == (False, 4, "HTTP 503 after 4 attempts")
    assert len(receiver.got) == 4
    assert (_counted("failed") - before[0], _sends() - before[1]) == (1, 4)
    assert "Gave up on notification" in caplog.text and TOKEN not in caplog.text


def test_a_4xx_is_not_retried_and_a_redirect_is_not_followed(
    receiver: Receiver, sent: Sent
) -> None:
    receiver.answers = [302]
    done = sent.deliver(intent(WebhookFormat.JSON), receiver.url())
    assert done.result == "HTTP 302 (redirects are not followed) after 1 attempts"
    assert len(receiver.got) == 1


def test_the_same_notification_is_sent_once_however_often_it_is_planned(
    receiver: Receiver, sent: Sent
) -> None:
    sent.deliver(intent(WebhookFormat.JSON), receiver.url())
    sends = REGISTRY.get_sample_value(SENDS, {"namespace": "ml"})
    for _ in range(3):  # later passes, before status records the delivery
        sent.notifier.send(
            "ml",
            "iris",
            (intent(WebhookFormat.JSON),),
            (WebhookTarget("team", url=receiver.url()),),
            pending=frozenset({("team", ROW.id)}),
        )
    # A send begins on the notifier's loop, counted before its first await; one more turn
    # of that loop after the three calls has seen any send they started.
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), sent.notifier._loop).result(timeout=10)
    assert REGISTRY.get_sample_value(SENDS, {"namespace": "ml"}) == sends
    assert len(receiver.got) == 1
    # A plan held back (a refused write) lists no intent but status still has it Pending.
    sent.notifier.send("ml", "iris", (), (), pending=frozenset({("team", ROW.id)}))
    assert len(sent.notifier.finished("ml", "iris")) == 1
    sent.notifier.send("ml", "iris", (), (), pending=frozenset())  # status recorded it
    assert sent.notifier.finished("ml", "iris") == ()


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/x"]
)
def test_the_egress_policy_refuses_internal_destinations_without_retrying(url: str) -> None:
    reconciled: list[tuple[str, str]] = []
    notifier = Notifier(on_done=lambda ns, n: reconciled.append((ns, n)), clock=FakeClock())
    try:
        done = Sent(notifier, reconciled).deliver(intent(WebhookFormat.JSON), url)
    finally:
        notifier.stop()
    assert done.result == "refused by the operator's egress policy after 1 attempts"


def test_the_platforms_denied_cidrs_hold_for_webhooks(receiver: Receiver) -> None:
    policy = EgressPolicy.from_rules(deny=["127.0.0.0/8"])
    reconciled: list[tuple[str, str]] = []
    notifier = Notifier(
        on_done=lambda ns, n: reconciled.append((ns, n)), clock=FakeClock(), policy=policy
    )
    try:
        done = Sent(notifier, reconciled).deliver(intent(WebhookFormat.JSON), receiver.url())
    finally:
        notifier.stop()
    assert not done.delivered and receiver.got == []


def _counted(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "modelpipe_notifications_total", {"namespace": "ml", "outcome": outcome}
        )
        or 0.0
    )


def _sends() -> float:
    return (
        REGISTRY.get_sample_value("modelpipe_notification_sends_total", {"namespace": "ml"}) or 0.0
    )
