"""The demo's S3 server (examples/iris/s3-server.yaml) and who may do what in it.

The server's root keys are in Secret ``s3-root``, which only the server mounts; the
pipeline's Secret ``iris-s3`` holds a user of versitygw's internal IAM (``--iam-dir`` on
the server's PVC), created here through versitygw's admin API. Root owns both buckets
and grants that user, by bucket policy, exactly what the pipeline does:

    iris-data    s3:GetObject, s3:GetObjectVersion on iris/*                 (the dataset)
    iris-models  s3:GetObject, s3:GetObjectVersion, s3:PutObject on
                 models/<namespace>/*                        (upload-model, fetch-model)

so the pipeline's keys cannot list, delete, change a policy, create a bucket, or touch
the other prefixes. What versitygw (like S3) cannot narrow further: s3:PutObject also
overwrites, so the keys could rewrite an earlier run's files and its manifest together
(fetch-model's check only catches files that no longer match their manifest), and the
keys are static (no expiry) for as long as the Secret exists.

The demo reaches the server from the host through ``kubectl port-forward service/s3``
and signs as root there: to create the buckets, the user and the policies, and to
publish the dataset's versions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from xml.sax.saxutils import escape

from localkube.cluster import Cluster
from localkube.portforward import port_forward

NAMESPACE = "modelpipe-demo"
KEYS = "iris-s3"  # the pipeline's Secret: the IAM user's keys, opted in for both prefixes
ROOT_KEYS = "s3-root"  # the server's root keys: mounted by the server only
DATA_BUCKET, DATA_PREFIX = "iris-data", "iris"
DATA_KEY = f"{DATA_PREFIX}/train.csv"
MODELS_BUCKET, MODELS_PREFIX = "iris-models", "models"
S3_PORT = 7070
REGION = "us-east-1"


class AdminError(Exception):
    """versitygw's admin API refused a request (its status, never its body)."""


def _secret_keys(cluster: Cluster | None, name: str) -> tuple[str, str]:
    if cluster is None:
        return "", ""
    got = cluster.kubectl("-n", NAMESPACE, "get", "secret", name, "-o", "json", check=False)
    data = json.loads(got.stdout).get("data", {}) if got.returncode == 0 else {}
    return tuple(  # type: ignore[return-value]
        base64.b64decode(data.get(key, "")).decode()
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    )


def _secret(name: str, data: dict[str, str], **metadata: Any) -> dict[str, Any]:
    meta = {"name": name, **metadata}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": data}


class ObjectStore:
    """The S3 server in the cluster; the keys of an earlier run's Secrets, else new ones."""

    def __init__(self, cluster: Cluster | None, *, url: str | None = None) -> None:
        """``url``: reach the server there instead of through a port-forward (tests)."""
        self.cluster, self.url = cluster, url
        root, user = _secret_keys(cluster, ROOT_KEYS), _secret_keys(cluster, KEYS)
        self.root_access = root[0] or "root" + secrets.token_hex(8)
        self.root_secret = root[1] or secrets.token_urlsafe(24)
        self.access_key = user[0] or "iris" + secrets.token_hex(8)
        self.secret_key = user[1] or secrets.token_urlsafe(24)

    @property
    def endpoint(self) -> str:
        """Where pods (the operator's, the training and serving pods') reach it."""
        return f"http://s3.{NAMESPACE}.svc.cluster.local:{S3_PORT}"

    def root_keys(self) -> dict[str, Any]:
        """Secret s3-root: not opted in for any pipeline (no modelpipe.io/credentials)."""
        data = {"AWS_ACCESS_KEY_ID": self.root_access, "AWS_SECRET_ACCESS_KEY": self.root_secret}
        return _secret(ROOT_KEYS, data)

    def keys(self) -> dict[str, Any]:
        """Secret iris-s3: the IAM user's keys, opted in for the dataset and the models
        (docs/triggers.md)."""
        prefixes = f"s3://{DATA_BUCKET}/{DATA_PREFIX} s3://{MODELS_BUCKET}/{MODELS_PREFIX}"
        data = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
        }
        return _secret(
            KEYS,
            data,
            labels={"modelpipe.io/credentials": "true"},
            annotations={"modelpipe.io/url-prefixes": prefixes},
        )

    def policies(self) -> dict[str, dict[str, Any]]:
        """Each bucket's policy: the user may do what the pipeline does, nothing more."""

        def allow(actions: list[str], resource: str) -> dict[str, Any]:
            statement = {
                "Effect": "Allow",
                "Principal": {"AWS": [self.access_key]},
                "Action": actions,
                "Resource": [f"arn:aws:s3:::{resource}"],
            }
            return {"Version": "2012-10-17", "Statement": [statement]}

        read = ["s3:GetObject", "s3:GetObjectVersion"]
        return {
            DATA_BUCKET: allow(read, f"{DATA_BUCKET}/{DATA_PREFIX}/*"),
            MODELS_BUCKET: allow(
                [*read, "s3:PutObject"], f"{MODELS_BUCKET}/{MODELS_PREFIX}/{NAMESPACE}/*"
            ),
        }

    @contextmanager
    def _local(self) -> Iterator[str]:
        if self.url is not None:
            yield self.url
            return
        assert self.cluster is not None
        with port_forward(
            self.cluster, namespace=NAMESPACE, target="service/s3", port=S3_PORT
        ) as local:
            yield f"http://127.0.0.1:{local}"

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One S3 request from the host, signed with the root keys, through a port-forward."""
        import boto3
        from botocore.config import Config

        with self._local() as url:
            client = boto3.client(
                "s3",
                endpoint_url=url,
                aws_access_key_id=self.root_access,
                aws_secret_access_key=self.root_secret,
                region_name=REGION,
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
            )
            answer: dict[str, Any] = getattr(client, method)(**params)
        return answer

    def admin(self, path: str, body: bytes = b"") -> int:
        """One request to versitygw's admin API (PATCH, signed as root); its status."""
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        with self._local() as url:
            request = AWSRequest(
                method="PATCH",
                url=url + path,
                data=body,
                headers={"X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()},
            )
            keys = Credentials(self.root_access, self.root_secret)
            S3SigV4Auth(keys, "s3", REGION).add_auth(request)
            sent = urllib.request.Request(
                url + path, data=body, headers=dict(request.headers), method="PATCH"
            )
            try:
                with urllib.request.urlopen(sent, timeout=30) as answer:
                    return int(answer.status)
            except urllib.error.HTTPError as refused:
                return refused.code

    def provision(self) -> None:
        """The two versioned buckets (root's), the pipeline's user and its policies."""
        from botocore.exceptions import ClientError

        for bucket in (DATA_BUCKET, MODELS_BUCKET):
            try:
                self.call("create_bucket", Bucket=bucket)
            except ClientError as failed:  # an earlier run's bucket: keep it
                if failed.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise
            versioning = {"Status": "Enabled"}
            self.call("put_bucket_versioning", Bucket=bucket, VersioningConfiguration=versioning)
        account = (
            f"<Account><Access>{escape(self.access_key)}</Access>"
            f"<Secret>{escape(self.secret_key)}</Secret><Role>user</Role></Account>"
        )
        status = self.admin("/create-user", account.encode())
        if status not in (200, 201, 409):  # 409: an earlier run's user, same keys
            raise AdminError(f"versitygw's admin API refused create-user (HTTP {status})")
        for bucket, policy in self.policies().items():
            self.call("put_bucket_policy", Bucket=bucket, Policy=json.dumps(policy))

    def upload(self, path: Any) -> str:
        """Put ``path`` as a new version of the dataset object; its VersionId."""
        answer = self.call("put_object", Bucket=DATA_BUCKET, Key=DATA_KEY, Body=path.read_bytes())
        return str(answer.get("VersionId", "?"))
