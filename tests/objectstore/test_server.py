"""The S3 server the tests run answers like S3 where modelpipe depends on it.

boto3 is the oracle: ETags, conditional GETs (304 / 412), bucket versioning
(old versions stay readable by id), and a deleted key's 404 with a delete marker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from tests.objectstore.server import ROOT, S3Server, server_binary


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


def test_a_killed_test_process_leaves_no_server_behind(tmp_path: Path) -> None:
    """SIGKILL the process that started versitygw (as a CI timeout does to pytest): the
    server goes with it instead of holding its port and data directory."""
    starter = (
        "import sys; from pathlib import Path; from tests.objectstore.server import S3Server\n"
        "server = S3Server(Path(sys.argv[1]), binary=Path(sys.argv[2])); server.start()\n"
        "print(server._process.pid, flush=True); sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", starter, str(tmp_path), str(server_binary())],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, text=True,
    )  # fmt: skip
    server_pid = 0
    try:
        assert child.stdout is not None
        server_pid = int(child.stdout.readline())
        assert _alive(server_pid)
        child.kill()
        child.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(server_pid), "versitygw outlived the process that started it"
    finally:
        child.kill()
        if server_pid and _alive(server_pid):  # the failure above: clean up after it
            os.kill(server_pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
