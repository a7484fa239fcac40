"""s3:// dataset -> version, against a real S3 server (versitygw on 127.0.0.1).

The object is put with boto3 (the oracle); the source signs with botocore and
sends through its own HTTP client, as the operator's pollers do.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.objectstore.server import S3Server

from modelpipe.api.s3data import S3Location, parse_s3_uri, s3_uri_problem
from modelpipe.api.sources import AwsKeys, Credentials, ErrorReason, Observation, Validators
from modelpipe.sources.httpdata import HttpCheck
from modelpipe.sources.s3data import object_url, object_version, resolve_s3_object

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CSV = b"a,b,target\n1,2,0\n3,4,1\n"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as c:
        yield c


def keys(server: S3Server, **changes: str) -> Credentials:
    data = {
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_REGION": "us-east-1",
        **changes,
    }
    return Credentials.from_secret_data(data)


async def check(
    client: httpx.AsyncClient, uri: str, credentials: Credentials | None, *,
    previous: Validators | None = None, max_bytes: int = 1 << 20,
) -> Observation:  # fmt: skip
    return await resolve_s3_object(HttpCheck(client, uri, credentials, max_bytes, previous, NOW))


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("s3://data/train.csv", None),
        ("s3://data/dir/train.csv?versionId=3HL4kqtJ-lc.9", None),
        ("s3://data/", "names one object"),
        ("s3://data/dir/", "names one object"),
        ("s3://Data_Bad/k", "not a valid S3 bucket name"),
        ("s3://user:pw@data/k", "must not contain credentials"),
        ("s3://data/k?acl=1", "takes no query"),
        ("s3://data/k?versionId=a%0Ab", "versionId may hold only"),
        ("https://example.com/k", None),
    ],
)
def test_uri_problem(uri: str, problem: str | None) -> None:
    found = s3_uri_problem(uri)
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("path", "http://127.0.0.1:9000/data/a%20b/c.csv?versionId=v1"),
        ("virtual", "http://data.127.0.0.1:9000/a%20b/c.csv?versionId=v1"),
    ],
)
def test_object_url(style: str, expected: str) -> None:
    aws = AwsKeys.from_secret_data(
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000/", "AWS_S3_ADDRESSING_STYLE": style}
    )
    assert object_url(S3Location("data", "a b/c.csv", "v1"), aws) == expected


def test_object_url_defaults_to_aws() -> None:
    url = object_url(S3Location("data", "k.csv"), None)
    assert url == "https://data.s3.us-east-1.amazonaws.com/k.csv"


def test_version_prefers_a_plain_version_id() -> None:
    assert object_version(version_id="abc.1", etag='"e"') == "versionId:abc.1"
    assert str(object_version(version_id="null", etag='"e"')).startswith("etag:sha256:")
    hashed = object_version(version_id="a\nb", etag='"e"')
    assert hashed is not None and "\n" not in hashed and hashed.startswith("versionId:sha256:")


def test_keys_never_in_repr(s3_server: S3Server) -> None:
    shown = repr(keys(s3_server))
    assert s3_server.secret_key not in shown and s3_server.access_key not in shown
    assert parse_s3_uri("s3://b1/k?versionId=x") == S3Location("b1", "k", "x")


async def test_unversioned_object_is_followed_by_etag(
    s3_server: S3Server, client: httpx.AsyncClient
) -> None:
    bucket = s3_server.bucket(f"mp-{secrets.token_hex(4)}")
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key="d.csv", Body=CSV)
    uri, creds = f"s3://{bucket}/d.csv", keys(s3_server)
    first = await check(client, uri, creds)
    assert first.error is None and first.value and first.value.startswith("etag:sha256:")
    again = await check(client, uri, creds, previous=first.validators)
    assert again.not_modified
    s3.put_object(Bucket=bucket, Key="d.csv", Body=CSV + b"5,6,0\n")
    changed = await check(client, uri, creds, previous=first.validators)
    assert changed.value and changed.value != first.value


async def test_versioned_object_is_followed_by_version_id(
    s3_server: S3Server, s3_bucket: str, client: httpx.AsyncClient
) -> None:
    s3 = s3_server.client()
    put = s3.put_object(Bucket=s3_bucket, Key="d.csv", Body=CSV)
    seen = await check(client, f"s3://{s3_bucket}/d.csv", keys(s3_server))
    assert seen.value == f"versionId:{put['VersionId']}"


async def test_failures_name_the_reason_and_never_a_key(
    s3_server: S3Server, s3_bucket: str, client: httpx.AsyncClient
) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="d.csv", Body=CSV)
    uri, creds = f"s3://{s3_bucket}/d.csv", keys(s3_server)
    wrong = await check(client, uri, keys(s3_server, AWS_SECRET_ACCESS_KEY="wrong"))
    no_key = await check(client, f"s3://{s3_bucket}/absent.csv", creds)
    no_bucket = await check(client, "s3://mp-no-such-bucket/d.csv", creds)
    big = await check(client, uri, creds, max_bytes=10)
    assert wrong.error and wrong.error.reason is ErrorReason.AUTH_FAILED
    assert no_key.error and no_key.error.reason is ErrorReason.NOT_FOUND
    assert no_bucket.error and no_bucket.error.reason is ErrorReason.NOT_FOUND
    assert big.error and big.error.reason is ErrorReason.TOO_LARGE
    assert f"({len(CSV)} bytes)" in big.error.message
    for error in (wrong.error, no_key.error, no_bucket.error, big.error):
        assert s3_server.secret_key not in error.message
        assert s3_server.access_key not in error.message


async def test_deleted_object_is_not_found(
    s3_server: S3Server, s3_bucket: str, client: httpx.AsyncClient
) -> None:
    s3 = s3_server.client()
    s3.put_object(Bucket=s3_bucket, Key="d.csv", Body=CSV)
    uri, creds = f"s3://{s3_bucket}/d.csv", keys(s3_server)
    first = await check(client, uri, creds)
    s3.delete_object(Bucket=s3_bucket, Key="d.csv")
    gone = await check(client, uri, creds, previous=first.validators)
    assert gone.error and gone.error.reason is ErrorReason.NOT_FOUND


async def test_outage_is_unreachable_then_recovers(
    s3_outage_server: S3Server, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    server = s3_outage_server
    bucket = server.bucket("outage", versioned=True)
    server.client().put_object(Bucket=bucket, Key="d.csv", Body=CSV)
    uri, creds = f"s3://{bucket}/d.csv", keys(server)
    caplog.set_level(logging.DEBUG)
    server.stop()
    down = await check(client, uri, creds)
    assert down.error and down.error.reason is ErrorReason.UNREACHABLE
    server.start()
    up = await check(client, uri, creds)
    assert up.error is None and up.value and up.value.startswith("versionId:")
    assert server.secret_key not in caplog.text


async def test_anonymous_request_is_refused_by_a_private_bucket(
    s3_server: S3Server, s3_bucket: str, client: httpx.AsyncClient
) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="d.csv", Body=CSV)
    endpoint_only = Credentials.from_secret_data({"AWS_ENDPOINT_URL": s3_server.endpoint})
    seen = await check(client, f"s3://{s3_bucket}/d.csv", endpoint_only)
    assert seen.error and seen.error.reason is ErrorReason.AUTH_FAILED
