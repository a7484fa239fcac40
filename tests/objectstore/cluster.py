"""What the cluster tests of S3 (datasets and models) share: the keys as an opted-in
Secret, and everything a pipeline's readers can see, to check no key shows in it."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Namespace, Operator, example_documents, secret
from tests.objectstore.server import S3Server


def keys_secret(
    name: str,
    server: S3Server,
    *,
    prefix: str,
    secret_key: str | None = None,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """``server``'s keys in a Secret opted in for URLs under ``prefix``, with ``endpoint``:
    the server's URL as the node's pods reach it (localkube.reach; default its own)."""
    return secret(
        name,
        prefix=prefix,
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=secret_key or server.secret_key,
        AWS_ENDPOINT_URL=endpoint or server.endpoint,
    )


def shown(ns: Namespace, operator: Operator, name: str = "iris") -> str:
    """Everything a pipeline's readers see: status, Events, the operator's log."""
    events = ns.kubectl("get", "events", "-o", "yaml").stdout
    return repr(ns.pipeline(name).get("status")) + events + operator.logs()


def no_key_shown(ns: Namespace, operator: Operator, server: S3Server, name: str = "iris") -> None:
    """Neither of ``server``'s keys is in anything the pipeline's readers see."""
    everything = shown(ns, operator, name)
    assert server.secret_key not in everything and server.access_key not in everything


MODEL_KEYS = "model-keys"
MODEL_PREFIX = "models"


def s3_documents(
    data_url: str, server: S3Server, bucket: str, *, endpoint: str, deadline: int = 45
) -> list[dict[str, Any]]:
    """The iris example with its models in ``bucket`` (no PVC), and the opted-in keys."""
    _, pipeline = example_documents(data_url=data_url)
    spec = pipeline["spec"]
    spec["artifacts"] = {
        "s3": {"bucket": bucket, "prefix": MODEL_PREFIX, "credentialsSecret": MODEL_KEYS}
    }
    # A first model with no production to return to is taken once ready (planning.retry).
    spec["serving"]["progressDeadlineSeconds"] = deadline
    keys = keys_secret(
        MODEL_KEYS, server, prefix=f"s3://{bucket}/{MODEL_PREFIX}", endpoint=endpoint
    )
    return [keys, pipeline]
