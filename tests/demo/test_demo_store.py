"""The demo's store rights on the real S3 server: hack/demo_store.py provisions versitygw
(with its internal IAM, as examples/iris/s3-server.yaml runs it) and the pipeline's keys
may do exactly what the pipeline does there, as versitygw judges its bucket policies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.demo.test_demo_failures import load_demo
from tests.objectstore.server import S3Server


@pytest.fixture
def iam_server(tmp_path: Path, s3_binary: Path) -> Iterator[S3Server]:
    server = S3Server(data_dir=tmp_path / "s3", binary=s3_binary, iam=True)
    server.start()
    yield server
    server.stop()


def answer(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as refused:
        return str(refused.response["Error"]["Code"])
    return "allowed"


def test_the_pipelines_keys_may_read_the_dataset_and_keep_models_and_nothing_else(
    iam_server: S3Server,
) -> None:
    demo = load_demo()
    store = demo.ObjectStore(None, url=iam_server.local_endpoint)
    store.root_access, store.root_secret = iam_server.access_key, iam_server.secret_key
    assert "labels" not in store.root_keys()["metadata"]  # root's: opted in for no pipeline
    store.provision()
    store.provision()  # a second run of the demo: the same buckets, user and policies
    root = iam_server.client()
    version = root.put_object(Bucket="iris-data", Key="iris/train.csv", Body=b"a\n1\n")
    root.put_object(Bucket="iris-data", Key="private/other.csv", Body=b"a\n1\n")
    user = iam_server.client(
        aws_access_key_id=store.access_key, aws_secret_access_key=store.secret_key
    )
    ours = f"models/{demo.NAMESPACE}/iris/v1/run/manifest.json"
    data, models = "iris-data", "iris-models"
    assert {
        "head the dataset": answer(lambda: user.head_object(Bucket=data, Key="iris/train.csv")),
        "get its version": answer(
            lambda: user.get_object(
                Bucket=data, Key="iris/train.csv", VersionId=version["VersionId"]
            )
        ),
        "put a model": answer(lambda: user.put_object(Bucket=models, Key=ours, Body=b"{}")),
        "get it back": answer(lambda: user.get_object(Bucket=models, Key=ours)),
        "put the dataset": answer(
            lambda: user.put_object(Bucket=data, Key="iris/train.csv", Body=b"x")
        ),
        "get another prefix": answer(lambda: user.get_object(Bucket=data, Key="private/other.csv")),
        "put in another namespace": answer(
            lambda: user.put_object(Bucket=models, Key="models/team-b/iris/x", Body=b"x")
        ),
        "list": answer(lambda: user.list_objects_v2(Bucket=models)),
        "delete a model": answer(lambda: user.delete_object(Bucket=models, Key=ours)),
        "drop the policy": answer(lambda: user.delete_bucket_policy(Bucket=models)),
        "create a bucket": answer(lambda: user.create_bucket(Bucket="mine")),
    } == {
        "head the dataset": "allowed",
        "get its version": "allowed",
        "put a model": "allowed",
        "get it back": "allowed",
        "put the dataset": "AccessDenied",
        "get another prefix": "AccessDenied",
        "put in another namespace": "AccessDenied",
        "list": "AccessDenied",
        "delete a model": "AccessDenied",
        "drop the policy": "AccessDenied",
        "create a bucket": "AccessDenied",
    }
