"""``modelpipe-trainer fetch-s3`` against the real S3 server: the version the run names.

The Secret's keys come as files (the mounted credentialsSecret); messages carry the
S3 error code and status, never a key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tests.objectstore.server import S3Server

from modelpipe_trainer.objectfetch import CREDENTIALS_DIR_ENV, FETCH_ENV, run

CSV = b"x,y\n1,0\n2,1\n"
pytestmark = pytest.mark.slow  # botocore loads its service model per client: seconds each


def secret_dir(tmp_path: Path, server: S3Server, *, secret_key: str | None = None) -> Path:
    folder = tmp_path / "secret"
    folder.mkdir()
    values = {
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key or server.secret_key,
        "AWS_ENDPOINT_URL": server.endpoint,
    }
    for name, value in values.items():
        (folder / name).write_text(value)
    return folder


def fetch(
    tmp_path: Path, server: S3Server, uri: str, version: str, **options: object
) -> tuple[int, Path, str]:
    target = tmp_path / "data" / "train.csv"
    termination = tmp_path / "termination-log"
    objects = [
        {"uri": uri, "version": version, "path": str(target), "max_bytes": options.get("max", 1000)}
    ]
    secret = secret_dir(tmp_path, server, secret_key=options.get("secret_key"))  # type: ignore[arg-type]
    environ = {FETCH_ENV: json.dumps(objects), CREDENTIALS_DIR_ENV: str(secret)}
    code = run(environ, termination_path=str(termination))
    return code, target, termination.read_text() if termination.exists() else ""


def etag_version(etag: str) -> str:
    return f"etag:sha256:{hashlib.sha256(etag.encode()).hexdigest()[:16]}"


def test_fetches_the_resolved_version_id(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    s3 = s3_server.client()
    first = s3.put_object(Bucket=s3_bucket, Key="d.csv", Body=CSV)["VersionId"]
    s3.put_object(Bucket=s3_bucket, Key="d.csv", Body=CSV + b"3,0\n")
    code, target, _ = fetch(tmp_path, s3_server, f"s3://{s3_bucket}/d.csv", f"versionId:{first}")
    assert code == 0 and target.read_bytes() == CSV


def test_fetches_by_etag_and_refuses_a_changed_object(tmp_path: Path, s3_server: S3Server) -> None:
    bucket = s3_server.bucket("mp-fetch-etag")
    s3 = s3_server.client()
    etag = s3.put_object(Bucket=bucket, Key="d.csv", Body=CSV)["ETag"]
    code, target, _ = fetch(tmp_path, s3_server, f"s3://{bucket}/d.csv", etag_version(etag))
    assert code == 0 and target.read_bytes() == CSV
    s3.put_object(Bucket=bucket, Key="d.csv", Body=CSV + b"3,0\n")
    again = tmp_path / "again"
    again.mkdir()
    code, _, message = fetch(again, s3_server, f"s3://{bucket}/d.csv", etag_version(etag))
    assert code == 1 and "changed since version" in message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"secret_key": "wrong"}, "(403)"),
        ({"max": 5}, f"{len(CSV)} bytes, over the limit of 5"),
    ],
)
def test_failures_are_messages_without_keys(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, options: dict[str, object], expected: str
) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="d.csv", Body=CSV)
    code, target, message = fetch(tmp_path, s3_server, f"s3://{s3_bucket}/d.csv", "v1", **options)
    assert code == 1 and expected in message and not target.exists()
    assert s3_server.secret_key not in message and s3_server.access_key not in message


def test_missing_key_is_named(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> None:
    code, _, message = fetch(tmp_path, s3_server, f"s3://{s3_bucket}/absent.csv", "v1")
    assert code == 1 and "NoSuchKey (404)" in message
