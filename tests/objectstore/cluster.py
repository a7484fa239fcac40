"""What the cluster tests of S3 (datasets and models) share: the keys as an opted-in
Secret, and everything a pipeline's readers can see, to check no key shows in it."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Namespace, Operator, secret
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
