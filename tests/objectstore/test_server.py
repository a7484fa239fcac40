"""The S3 server the tests run answers like S3 where modelpipe depends on it.

boto3 is the oracle: ETags, conditional GETs (304 / 412), bucket versioning
(old versions stay readable by id), and a deleted key's 404 with a delete marker.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from tests.objectstore.server import S3Server


def _status(error: ClientError) -> int:
    return int(error.response["ResponseMetadata"]["HTTPStatusCode"])


def test_etag_and_conditional_get(s3_server: S3Server, s3_bucket: str) -> None:
    s3 = s3_server.client()
    etag = s3.put_object(Bucket=s3_bucket, Key="d.csv", Body=b"a,b\n1,2\n")["ETag"]
    assert s3.head_object(Bucket=s3_bucket, Key="d.csv")["ETag"] == etag
    with pytest.raises(ClientError) as unchanged:
        s3.get_object(Bucket=s3_bucket, Key="d.csv", IfNoneMatch=etag)
    assert _status(unchanged.value) == 304
    with pytest.raises(ClientError) as mismatch:
        s3.get_object(Bucket=s3_bucket, Key="d.csv", IfMatch='"0000"')
    assert _status(mismatch.value) == 412


def test_versioning_keeps_old_versions(s3_server: S3Server, s3_bucket: str) -> None:
    s3 = s3_server.client()
    v1 = s3.put_object(Bucket=s3_bucket, Key="d.csv", Body=b"v1")["VersionId"]
    v2 = s3.put_object(Bucket=s3_bucket, Key="d.csv", Body=b"v2")["VersionId"]
    assert v1 and v2 and v1 != v2
    assert s3.head_object(Bucket=s3_bucket, Key="d.csv")["VersionId"] == v2
    old = s3.get_object(Bucket=s3_bucket, Key="d.csv", VersionId=v1)["Body"].read()
    assert old == b"v1"
    s3.delete_object(Bucket=s3_bucket, Key="d.csv")
    with pytest.raises(ClientError) as gone:
        s3.head_object(Bucket=s3_bucket, Key="d.csv")
    assert _status(gone.value) == 404


def test_wrong_keys_are_refused(s3_server: S3Server, s3_bucket: str) -> None:
    s3 = s3_server.client(aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as refused:
        s3.head_object(Bucket=s3_bucket, Key="d.csv")
    assert _status(refused.value) == 403


def test_restart_keeps_data(s3_outage_server: S3Server) -> None:
    bucket = s3_outage_server.bucket("kept")
    s3_outage_server.client().put_object(Bucket=bucket, Key="k", Body=b"x")
    port = s3_outage_server.port
    s3_outage_server.stop()
    s3_outage_server.start()
    assert s3_outage_server.port == port
    body = s3_outage_server.client().get_object(Bucket=bucket, Key="k")["Body"].read()
    assert body == b"x"
