"""HTTP dataset -> version, against a real loopback server."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.sources.servers import DataServer, Served

from modelpipe.api.sources import Credentials, ErrorReason, Observation, Validators
from modelpipe.sources.httpdata import (
    HttpCheck,
    classify_status,
    looks_like_html,
    parse_retry_after,
    resolve_http_dataset,
    short_hash,
    version_from_validators,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CSV = b"a,b,target\n1,2,0\n3,4,1\n"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, follow_redirects=True, trust_env=False) as c:
        yield c


async def _check(
    client: httpx.AsyncClient, url: str, *, previous: Validators | None = None,
    max_bytes: int = 1 << 20, credentials: Credentials | None = None,
) -> Observation:  # fmt: skip
    return await resolve_http_dataset(HttpCheck(client, url, credentials, max_bytes, previous, NOW))


@pytest.mark.parametrize(
    ("prefix", "html"),
    [
        (b"<!DOCTYPE html>\n<html>", True),
        (b"\xef\xbb\xbf  <html lang=en>", True),
        (b"<!-- login -->", True),
        (b"<p>hi</p>", True),
        (b"a,b,target\n1,2,0", False),
        (b"<price>,qty\n", False),
        (b"PAR1\x00\x00", False),
    ],
)
def test_looks_like_html(prefix: bytes, html: bool) -> None:
    assert looks_like_html(prefix) is html


@pytest.mark.parametrize(
    ("status", "reason"),
    [(200, None), (304, None), (401, ErrorReason.AUTH_FAILED), (403, ErrorReason.AUTH_FAILED),
     (404, ErrorReason.NOT_FOUND), (429, ErrorReason.RATE_LIMITED), (503, ErrorReason.SERVER_ERROR),
     (418, ErrorReason.SERVER_ERROR)],
)  # fmt: skip
def test_classify_status(status: int, reason: ErrorReason | None) -> None:
    error = classify_status(status, retry_after=None)
    assert (error.reason if error else None) is reason


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", now=NOW) == 120.0
    assert parse_retry_after("Fri, 27 Nov 2026 12:01:00 GMT", now=NOW) == 60.0
    assert parse_retry_after("soon", now=NOW) is None


def test_version_names_its_origin() -> None:
    etag = version_from_validators(Validators(etag='"x"', last_modified="y"))
    assert etag == "etag:" + short_hash('"x"') and '"x"' not in (etag or "")
    assert version_from_validators(Validators(last_modified="db_password: x")) == (
        f"last-modified:{short_hash('db_password: x')}"
    )
    lm = version_from_validators(Validators(last_modified="Tue, 14 Nov 2023 22:13:20 GMT"))
    assert lm == "last-modified:2023-11-14T22:13:20Z"
    assert version_from_validators(Validators()) is None


async def test_etag_then_conditional_304(
    client: httpx.AsyncClient, data_server: DataServer
) -> None:
    url = data_server.put("/train.csv", Served(CSV))
    first = await _check(client, url)
    assert first.value == Served(CSV).version
    second = await _check(client, url, previous=first.validators)
    assert second.not_modified and second.error is None
    assert data_server.requests["304"] == 1
    data_server.put("/train.csv", Served(CSV + b"5,6,1\n"))
    third = await _check(client, url, previous=first.validators)
    assert third.value not in (None, first.value)


async def test_last_modified(client: httpx.AsyncClient, data_server: DataServer) -> None:
    url = data_server.put("/d.csv", Served(CSV, validator="last-modified"))
    first = await _check(client, url)
    assert first.value == "last-modified:2023-11-14T22:13:20Z"
    assert (await _check(client, url, previous=first.validators)).not_modified


async def test_no_validator_hashes_the_body(
    client: httpx.AsyncClient, data_server: DataServer
) -> None:
    url = data_server.put("/d.csv", Served(CSV, validator="none", send_length=False))
    first = await _check(client, url)
    assert first.value == "sha256:" + hashlib.sha256(CSV).hexdigest()
    data_server.put("/d.csv", Served(CSV + b"7,8,0\n", validator="none"))
    second = await _check(client, url, previous=first.validators)
    assert second.value == "sha256:" + hashlib.sha256(CSV + b"7,8,0\n").hexdigest()


@pytest.mark.parametrize(
    "served",
    [
        Served(
            b"<!doctype html><html><body>Sign in</body></html>",
            content_type="text/html; charset=utf-8",
        ),
        Served(b"<!DOCTYPE html>\n<html><body>Sign in</body></html>", content_type="text/csv"),
        Served(b"<html>x</html>", content_type="application/octet-stream", validator="none"),
    ],
)
async def test_html_is_not_data(
    client: httpx.AsyncClient, data_server: DataServer, served: Served
) -> None:
    observation = await _check(client, data_server.put("/d.csv", served))
    assert observation.value is None and observation.error is not None
    assert observation.error.reason is ErrorReason.NOT_DATA


@pytest.mark.parametrize(
    ("validator", "send_length"), [("etag", True), ("none", True), ("none", False)]
)
async def test_oversized_is_refused(
    client: httpx.AsyncClient, data_server: DataServer, validator: str, send_length: bool
) -> None:
    big = b"x,y\n" * 300_000  # 1.2 MB
    url = data_server.put("/big.csv", Served(big, validator=validator, send_length=send_length))
    observation = await _check(client, url, max_bytes=1 << 20)
    assert observation.error is not None and observation.error.reason is ErrorReason.TOO_LARGE
    assert "maxBytes=1048576" in observation.error.message


async def test_errors(client: httpx.AsyncClient, data_server: DataServer) -> None:
    base = data_server.base_url
    assert (await _check(client, f"{base}/missing.csv")).error.reason is ErrorReason.NOT_FOUND  # type: ignore[union-attr]
    data_server.status_override["/limited"] = (429, {"Retry-After": "30"})
    limited = await _check(client, f"{base}/limited")
    assert limited.error is not None and limited.error.reason is ErrorReason.RATE_LIMITED
    assert limited.retry_after_seconds == 30.0
    data_server.status_override["/private"] = (401, {})
    private = await _check(client, f"{base}/private", credentials=Credentials(token="t0k"))
    assert private.error is not None and private.error.reason is ErrorReason.AUTH_FAILED
    assert "t0k" not in private.error.message


async def test_stopped_server(client: httpx.AsyncClient, data_server: DataServer) -> None:
    url = data_server.put("/d.csv", Served(CSV))
    data_server.stop()
    observation = await _check(client, url)
    assert observation.error is not None and observation.error.reason is ErrorReason.UNREACHABLE


async def test_stopped_server_cuts_a_kept_alive_connection(
    client: httpx.AsyncClient, data_server: DataServer
) -> None:
    """An outage is an outage even for a client holding a keep-alive connection."""
    url = data_server.put("/d.csv", Served(CSV))
    assert (await _check(client, url)).value is not None  # the connection is now pooled
    data_server.stop()
    observation = await _check(client, url)
    assert observation.error is not None and observation.error.reason is ErrorReason.UNREACHABLE
    data_server.start()
    assert (await _check(client, url)).value is not None


async def test_url_with_credentials_refused(client: httpx.AsyncClient) -> None:
    observation = await _check(client, "https://u:p@example.invalid/d.csv")
    assert observation.error is not None and observation.error.reason is ErrorReason.INVALID_SOURCE
