"""Rest sends 429 and 5xx again with backoff, jitter and Retry-After, within bounds.

The answers are the apiserver's own (bodies and headers as a 1.35 apiserver sends them:
APF's 429 from its max-in-flight filter, a 503 from an unavailable aggregated API or
etcd, a 500 from an etcd timeout), fed through the real ApiClient's request preparation
and the kubernetes package's RESTResponse; the sleep, the random draw and the clock are
injected, so no test waits.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.rest import RESTResponse
from tests.operator.fake_api import FakeClock

from modelpipe.k8s.backoff import RetryPolicy, parse_retry_after, retry_delay
from modelpipe.k8s.rest import ApiError, Rest

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
Answer = tuple[int, dict[str, Any], dict[str, str]]


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


TOO_MANY: Answer = (
    429,
    _status(
        429, "TooManyRequests", "Too many requests, please try again later.", retryAfterSeconds=1
    ),
    {"Retry-After": "1"},
)
UNAVAILABLE: Answer = (
    503,
    _status(503, "ServiceUnavailable", "the server is currently unable to handle the request"),
    {},
)
ETCD_TIMEOUT: Answer = (500, _status(500, "InternalError", "etcdserver: request timed out"), {})
CONFLICT: Answer = (
    409,
    _status(409, "AlreadyExists", 'jobs.batch "iris-3f2c9e1d" already exists'),
    {},
)
INVALID: Answer = (422, _status(422, "Invalid", 'Job.batch "x" is invalid'), {})
NOT_FOUND: Answer = (404, _status(404, "NotFound", 'jobs.batch "x" not found'), {})
JOB: Answer = (201, {"kind": "Job", "metadata": {"name": "iris-3f2c9e1d", "uid": "u-1"}}, {})
OK: Answer = (200, {"kind": "JobList", "items": []}, {})


class Recorded(client.ApiClient):
    """The real ApiClient with its one network call replaced by recorded answers."""

    def __init__(self, answers: list[Answer]) -> None:
        configuration = client.Configuration()
        configuration.host = "https://127.0.0.1:6443"
        super().__init__(configuration)
        self.answers, self.sent = list(answers), []  # type: ignore[var-annotated]

    def call_api(  # type: ignore[override]
        self, method: str, url: str, header_params: Any = None, body: Any = None, **_: Any
    ) -> RESTResponse:
        self.sent.append((method, url, body))
        status, document, headers = self.answers.pop(0)
        raw = urllib3.HTTPResponse(
            body=json.dumps(document).encode(),
            status=status,
            headers={"Content-Type": "application/json", **headers},
            preload_content=False,
        )
        return RESTResponse(raw)


class Harness:
    def __init__(self, answers: list[Answer], *, draw: float = 0.5) -> None:
        self.api = Recorded(answers)
        self.sleeps: list[float] = []
        self.retries: list[tuple[str, int]] = []
        self.rest = Rest(
            self.api,
            sleep=self.sleeps.append,
            draw=lambda: draw,
            clock=FakeClock(NOW),
            on_retry=lambda method, status: self.retries.append((method, status)),
        )


def test_429_waits_what_retry_after_asks_plus_jitter_then_succeeds() -> None:
    harness = Harness([TOO_MANY, TOO_MANY, OK])
    assert harness.rest.request("GET", "/apis/batch/v1/namespaces/ml/jobs") == OK[1]
    # Retry-After 1 s, plus half of 0.25 s, then half of 0.5 s.
    assert harness.sleeps == [1.125, 1.25]
    assert harness.retries == [("GET", 429), ("GET", 429)]
    assert len(harness.api.sent) == 3


def test_5xx_backs_off_exponentially_and_a_create_is_sent_again() -> None:
    harness = Harness([UNAVAILABLE, ETCD_TIMEOUT, UNAVAILABLE, JOB], draw=1.0)
    created = harness.rest.request("POST", "/apis/batch/v1/namespaces/ml/jobs", body={"a": 1})
    assert created == JOB[1]
    assert harness.sleeps == [0.25, 0.5, 1.0]
    assert [sent[:2] for sent in harness.api.sent] == [harness.api.sent[0][:2]] * 4
    assert all(sent[2] == {"a": 1} for sent in harness.api.sent)


def test_a_server_that_stays_down_is_given_up_on_after_the_bounded_attempts() -> None:
    harness = Harness([ETCD_TIMEOUT] * 10)
    with pytest.raises(ApiError) as raised:
        harness.rest.request("GET", "/api/v1/namespaces/ml/pods")
    assert (raised.value.status, raised.value.reason) == (500, "InternalError")
    assert len(harness.api.sent) == RetryPolicy().attempts
    assert len(harness.sleeps) == RetryPolicy().attempts - 1
    assert sum(harness.sleeps) <= RetryPolicy().budget_seconds


def test_a_retry_after_longer_than_one_wait_may_last_is_not_slept_on() -> None:
    long_wait = (429, TOO_MANY[1], {"Retry-After": "120"})
    harness = Harness([long_wait, OK])
    with pytest.raises(ApiError) as raised:
        harness.rest.request("GET", "/api/v1/namespaces/ml/pods")
    assert raised.value.status == 429
    assert harness.sleeps == [] and len(harness.api.sent) == 1


@pytest.mark.parametrize("answer", [CONFLICT, INVALID])
def test_client_errors_are_the_answer_at_once(answer: Answer) -> None:
    harness = Harness([answer, OK])
    with pytest.raises(ApiError) as raised:
        harness.rest.request("POST", "/apis/batch/v1/namespaces/ml/jobs", body={})
    assert raised.value.status == answer[0]
    assert harness.sleeps == [] and len(harness.api.sent) == 1


def test_not_found_is_none_without_a_retry() -> None:
    harness = Harness([NOT_FOUND, OK])
    assert harness.rest.request("GET", "/apis/batch/v1/namespaces/ml/jobs/x") is None
    assert len(harness.api.sent) == 1


def test_retry_after_as_an_http_date_and_as_garbage() -> None:
    assert parse_retry_after("Thu, 03 Dec 2026 18:00:07 GMT", now=NOW) == 7.0
    assert parse_retry_after("Thu, 03 Dec 2026 17:59:00 GMT", now=NOW) == 0.0
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after(" 3 ", now=NOW) == 3.0


@settings(max_examples=300, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=20),
    status=st.integers(min_value=100, max_value=599),
    retry_after=st.none() | st.floats(min_value=0, max_value=1e6),
    waited=st.floats(min_value=0, max_value=100),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_every_delay_is_bounded_and_never_sooner_than_asked(
    attempt: int, status: int, retry_after: float | None, waited: float, draw: float
) -> None:
    policy = RetryPolicy()
    delay = retry_delay(
        policy, attempt=attempt, status=status, retry_after=retry_after, waited=waited, draw=draw
    )
    if delay is None:
        return
    assert status == 429 or status >= 500
    assert attempt < policy.attempts
    assert 0 <= delay <= 2 * policy.cap_seconds
    assert waited + delay <= policy.budget_seconds
    assert delay >= (retry_after or 0.0)
