"""s3:// datasets through the follower: what is followed, with which Secret, and what shows.

The Secret is the opt-in one of issue 16 (label, URL prefixes); the store is the
real S3 server. No key appears in status rows or in the operator's log.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tests.objectstore.server import S3Server
from tests.sources.test_follower import QUICK, follower, make_spec  # noqa: F401 (fixture)

from localkube.waiting import wait_for
from modelpipe.api.sources import ErrorReason, SecretRef, SourceKind
from modelpipe.sources.credentials import (
    CREDENTIALS_LABEL,
    URL_PREFIXES_ANNOTATION,
    Lent,
    SecretView,
    lend,
)
from modelpipe.sources.follower import follows, resolved

CSV = b"x,y\n1,0\n2,1\n"


def test_s3_dataset_is_followed_with_its_secret() -> None:
    spec = make_spec(
        {"revision": "abc"},
        {"uri": "s3://data/x.csv", "credentialsSecret": "s3", "maxBytes": 99},
    )
    data = follows(spec, namespace="ml")["dataset"]
    assert (data.key.kind, data.key.secret, data.key.max_bytes) == (
        SourceKind.S3, SecretRef("ml", "s3"), 99,
    )  # fmt: skip


@pytest.mark.parametrize(
    "dataset",
    [
        {"uri": "s3://data/x.csv", "version": "v1"},
        {"uri": "s3://data/x.csv?versionId=abc"},
    ],
)
def test_pinned_s3_dataset_is_not_followed(dataset: dict[str, Any]) -> None:
    assert follows(make_spec({"revision": "abc"}, dataset), namespace="ml") == {}


def secret_view(server: S3Server, *, prefixes: str, secret_key: str | None = None) -> SecretView:
    return SecretView(
        labels={CREDENTIALS_LABEL: "true"},
        annotations={URL_PREFIXES_ANNOTATION: prefixes},
        data={
            "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key or server.secret_key,
            "AWS_ENDPOINT_URL": server.endpoint,
        },
    )


def test_follower_resolves_an_s3_object_and_logs_no_key(
    follower: Any,  # noqa: F811
    s3_server: S3Server,
    s3_bucket: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    s3 = s3_server.client()
    first = s3.put_object(Bucket=s3_bucket, Key="d/x.csv", Body=CSV)["VersionId"]
    uri = f"s3://{s3_bucket}/d/x.csv"
    spec = make_spec(
        {"revision": "abc"}, {"uri": uri, "pollInterval": "1s", "credentialsSecret": "s3"}
    )
    ref = SecretRef("ml", "s3")
    good = lend(ref, secret_view(s3_server, prefixes=f"s3://{s3_bucket}/d"), url=uri)
    wrong = lend(
        ref, secret_view(s3_server, prefixes=f"s3://{s3_bucket}", secret_key="nope"), url=uri
    )

    def sync(lent: Lent) -> Any:
        return follower.sync(
            namespace="ml", name="p", spec=spec, code_credentials=Lent(), dataset_credentials=lent
        )

    wait_for(
        "the first version",
        lambda: sync(good)["dataset"].state.value == f"versionId:{first}",
        **QUICK,
    )
    second = s3.put_object(Bucket=s3_bucket, Key="d/x.csv", Body=CSV + b"3,0\n")["VersionId"]
    wait_for(
        "the second version",
        lambda: sync(good)["dataset"].state.value == f"versionId:{second}",
        **QUICK,
    )
    wait_for(
        "the wrong keys refused", lambda: sync(wrong)["dataset"].state.error is not None, **QUICK
    )
    state = sync(wrong)["dataset"].state
    assert state.error is not None and state.error.reason is ErrorReason.AUTH_FAILED
    assert state.value == f"versionId:{second}"  # the last known value is kept
    _, rows = resolved(sync(wrong))
    # The operator's records (the follower's thread), at DEBUG: botocore's signer included.
    # The test's own boto3 client logs its Authorization header, in the main thread.
    logged = "\n".join(
        record.getMessage() for record in caplog.records if record.threadName == "sources"
    )
    assert "Failed to check s3" in logged
    shown = repr(rows) + logged
    assert s3_server.secret_key not in shown and s3_server.access_key not in shown
    assert "nope" not in shown


def test_secret_not_opted_in_for_the_bucket_is_refused(
    follower: Any,  # noqa: F811
    s3_server: S3Server,
) -> None:
    uri = "s3://mp-other/x.csv"
    spec = make_spec({"revision": "abc"}, {"uri": uri, "credentialsSecret": "s3"})
    lent = lend(SecretRef("ml", "s3"), secret_view(s3_server, prefixes="s3://mp-data"), url=uri)
    state = follower.sync(
        namespace="ml", name="p", spec=spec, code_credentials=Lent(), dataset_credentials=lent
    )["dataset"].state
    assert state.error is not None and state.error.reason is ErrorReason.CREDENTIALS_REFUSED
    assert follower.registry.snapshot("ml/p") == {}
